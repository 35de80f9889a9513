/**
 * Java `.properties` text → flat `{ key: value }` (the format Spring Cloud Consul users keep in
 * KV): `key=value`, `key: value` or `key value`; `#`/`!` comments; `\` line continuations;
 * `\t \n \r \f \uXXXX` escapes. Throws with the line number on a malformed escape.
 */
export function parseProperties(text: string): Record<string, string> {
  const result: Record<string, string> = {};
  const lines = text.split(/\r\n|\r|\n/);
  for (let i = 0; i < lines.length; i++) {
    const startLine = i + 1;
    let logical = lines[i].replace(/^[ \t\f]+/, '');
    if (logical === '' || logical.startsWith('#') || logical.startsWith('!')) continue;
    while (endsWithContinuation(logical) && i + 1 < lines.length) {
      logical = logical.slice(0, -1) + lines[++i].replace(/^[ \t\f]+/, '');
    }
    if (endsWithContinuation(logical)) logical = logical.slice(0, -1);
    const separator = findSeparator(logical);
    const rawKey = separator === -1 ? logical : logical.slice(0, separator);
    let rest = separator === -1 ? '' : logical.slice(separator);
    rest = rest.replace(/^[ \t\f]*[=:]?[ \t\f]*/, '');
    result[unescape(rawKey, startLine)] = unescape(rest, startLine);
  }
  return result;
}

function endsWithContinuation(line: string): boolean {
  let backslashes = 0;
  for (let i = line.length - 1; i >= 0 && line[i] === '\\'; i--) backslashes++;
  return backslashes % 2 === 1;
}

function findSeparator(line: string): number {
  for (let i = 0; i < line.length; i++) {
    if (line[i] === '\\') i++;
    else if (line[i] === '=' || line[i] === ':' || line[i] === ' ' || line[i] === '\t' || line[i] === '\f') return i;
  }
  return -1;
}

function unescape(text: string, line: number): string {
  return text.replace(/\\(u([0-9a-fA-F]{0,4})|.)/g, (match, escape: string, hex?: string) => {
    if (escape[0] === 'u') {
      if (hex?.length !== 4) throw new Error(`line ${line}: "\\u" must be followed by 4 hex digits`);
      return String.fromCharCode(parseInt(hex, 16));
    }
    return { t: '\t', n: '\n', r: '\r', f: '\f' }[escape] ?? escape;
  });
}
