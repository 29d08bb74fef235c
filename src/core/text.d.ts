// TextEncoder and TextDecoder exist in every runtime the core runs in (Node, Workers, the page) and are
// deterministic, so the core may use them; tsconfig.core.json has no DOM lib, hence these declarations.
declare class TextEncoder {
  encode(input?: string): Uint8Array;
}
declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean });
  decode(input?: Uint8Array): string;
}
