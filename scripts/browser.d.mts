export declare const SYSTEM_CHROMIUM_PATHS: string[];
export declare const CHROMIUM_ARGS: string[];
export declare const NO_BROWSER_MESSAGE: string;
export declare function findChromium(
  env?: Record<string, string | undefined>,
): { source: 'env' | 'playwright' | 'system'; executablePath: string | undefined } | undefined;
