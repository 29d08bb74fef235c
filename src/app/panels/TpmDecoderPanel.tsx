import { useMemo, useState } from 'react';
import { Panel } from '../components/Panel';
import {
  commandCodeOf,
  decodeCommand,
  decodeResponse,
  walkNodes,
  type DecodedMessage,
  type DecodedNode,
} from '../views/tpm-decode';

export interface TpmDecoderPanelProps {
  command: Uint8Array | null;
  response: Uint8Array | null;
}

const BYTES_PER_ROW = 16;

/** The last command and response as trees beside their hex; pointing at a field lights its bytes. */
export function TpmDecoderPanel({ command, response }: TpmDecoderPanelProps) {
  const decodedCommand = useMemo(() => (command ? decodeCommand(command) : null), [command]);
  const code = commandCodeOf(command);
  const decodedResponse = useMemo(() => (response ? decodeResponse(response, code) : null), [response, code]);
  return (
    <Panel
      className="text-slate-900 dark:text-slate-100"
      title="TPM decoder"
      role="The last command and its response as TPM 2.0 Part 2/3 structures; point at a field to light its bytes."
    >
      <div className="@container flex flex-col gap-4">
        <MessageView name="Command" bytes={command} decoded={decodedCommand} />
        <MessageView name="Response" bytes={response} decoded={decodedResponse} />
      </div>
    </Panel>
  );
}

function MessageView({
  name,
  bytes,
  decoded,
}: {
  name: string;
  bytes: Uint8Array | null;
  decoded: DecodedMessage | null;
}) {
  const [hovered, setHovered] = useState<string | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const nodes = useMemo(
    () => new Map(decoded ? walkNodes(decoded.nodes).map((x) => [x.path, x.node]) : []),
    [decoded],
  );
  const lit = nodes.get(hovered ?? selected ?? '') ?? null;
  // Bytes of fields that are truncated or nobody expected: marked in the hex with a pattern.
  const problemBytes = useMemo(() => {
    const marked = new Set<number>();
    for (const n of nodes.values()) {
      if (n.problem && n.children.length === 0) for (let i = n.start; i < n.end; i++) marked.add(i);
    }
    return marked;
  }, [nodes]);

  if (!bytes || !decoded) {
    return (
      <div>
        <h3 className="text-sm font-semibold">{name}</h3>
        <p className="text-xs text-slate-500 dark:text-slate-400">No {name.toLowerCase()} yet.</p>
      </div>
    );
  }
  return (
    <div role="group" aria-label={name}>
      <h3 className="text-sm font-semibold">
        {name}: <span className="font-normal">{decoded.summary}</span>
        {decoded.hasProblems && (
          <span className="ml-2 rounded border border-red-700 px-1 text-xs whitespace-nowrap text-red-800 dark:border-red-400 dark:text-red-300">
            ⚠ malformed
          </span>
        )}
      </h3>
      <div className="mt-1 grid gap-3 @3xl:grid-cols-[minmax(0,1fr)_auto]">
        <ul
          className="max-h-80 overflow-auto text-xs"
          aria-label={`${name} fields`}
          onMouseLeave={() => setHovered(null)}
        >
          {decoded.nodes.map((n, i) => (
            <TreeNode
              key={i}
              node={n}
              path={String(i)}
              selected={selected}
              onHover={setHovered}
              onSelect={(p) => setSelected(selected === p ? null : p)}
            />
          ))}
        </ul>
        <HexView bytes={bytes} lit={lit} problemBytes={problemBytes} label={`${name} bytes`} />
      </div>
    </div>
  );
}

function TreeNode({
  node,
  path,
  selected,
  onHover,
  onSelect,
}: {
  node: DecodedNode;
  path: string;
  selected: string | null;
  onHover: (path: string | null) => void;
  onSelect: (path: string) => void;
}) {
  const isSelected = selected === path;
  const span = node.end > node.start ? `${node.start}–${node.end - 1}` : `at ${node.start}`;
  return (
    <li className="leading-snug">
      <button
        type="button"
        aria-pressed={isSelected}
        title={`bytes ${span}`}
        onMouseEnter={() => onHover(path)}
        onFocus={() => onHover(path)}
        onBlur={() => onHover(null)}
        onClick={() => onSelect(path)}
        className={
          'w-full rounded px-1 text-left hover:bg-sky-100 focus:outline-2 focus:outline-sky-600 dark:hover:bg-sky-900/50 ' +
          (isSelected ? 'bg-sky-200 font-semibold underline dark:bg-sky-800' : '')
        }
      >
        <span className="font-mono font-semibold">{node.label}</span>
        {node.value !== undefined && <span className="font-mono"> = {node.value}</span>}
        {node.problem && (node.children.length === 0 || !node.children.some((c) => c.problem)) && (
          <span className="ml-1 font-sans font-semibold text-red-800 dark:text-red-300">
            ⚠ {node.problem}
          </span>
        )}
      </button>
      {node.children.length > 0 && (
        <ul className="ml-3 border-l border-slate-300 pl-1 dark:border-slate-600">
          {node.children.map((c, i) => (
            <TreeNode
              key={i}
              node={c}
              path={`${path}.${i}`}
              selected={selected}
              onHover={onHover}
              onSelect={onSelect}
            />
          ))}
        </ul>
      )}
    </li>
  );
}

function HexView({
  bytes,
  lit,
  problemBytes,
  label,
}: {
  bytes: Uint8Array;
  lit: DecodedNode | null;
  problemBytes: Set<number>;
  label: string;
}) {
  const rows: number[] = [];
  for (let at = 0; at < bytes.length; at += BYTES_PER_ROW) rows.push(at);
  return (
    <div className="max-h-80 overflow-auto font-mono text-xs" aria-label={label} role="group">
      <p className="mb-1 font-sans text-slate-700 dark:text-slate-300" aria-live="polite">
        {lit ? (
          <>
            <span className="font-mono font-semibold">{lit.label}</span>:{' '}
            {lit.end > lit.start
              ? `bytes ${lit.start}–${lit.end - 1} (underlined)`
              : `no bytes (missing at ${lit.start})`}
          </>
        ) : (
          'Point at a field to light its bytes.'
        )}
      </p>
      {rows.map((at) => (
        <div key={at} className="flex gap-2 whitespace-nowrap">
          <span className="text-slate-400 select-none">{at.toString(16).padStart(4, '0')}</span>
          <span>
            {Array.from(bytes.subarray(at, at + BYTES_PER_ROW), (b, j) => {
              const i = at + j;
              const isLit = lit !== null && i >= lit.start && i < lit.end;
              const isProblem = problemBytes.has(i);
              return (
                <span
                  key={i}
                  data-lit={isLit ? 'true' : undefined}
                  className={
                    'inline-block w-[2.6ch] text-center ' +
                    (j === 8 ? 'ml-[1ch] ' : '') +
                    (isLit
                      ? 'bg-sky-300 font-bold underline decoration-2 underline-offset-2 dark:bg-sky-700 '
                      : '') +
                    (isProblem
                      ? 'bg-[repeating-linear-gradient(135deg,rgba(220,38,38,0.25)_0_3px,transparent_3px_6px)] text-red-900 dark:text-red-200 '
                      : '')
                  }
                >
                  {b.toString(16).padStart(2, '0')}
                </span>
              );
            })}
          </span>
        </div>
      ))}
    </div>
  );
}
