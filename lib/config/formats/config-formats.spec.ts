import { parseDocument, treeValue } from './config-formats.js';
import { parseProperties } from './properties.parser.js';

describe('config formats', () => {
  it('turns tree values that are valid JSON into JSON, and keeps the rest as strings', () => {
    expect(treeValue('5432')).toBe(5432);
    expect(treeValue('true')).toBe(true);
    expect(treeValue('{"a":1}')).toEqual({ a: 1 });
    expect(treeValue('"quoted"')).toBe('quoted');
    expect(treeValue('db.internal')).toBe('db.internal');
    expect(treeValue('')).toBe('');
  });

  it('parses JSON, YAML and properties documents into objects', () => {
    expect(parseDocument('json', '{"db":{"host":"h"}}')).toEqual({ db: { host: 'h' } });
    expect(parseDocument('yaml', 'db:\n  host: h\n  port: 5432\nlist: [1, 2]\n')).toEqual({
      db: { host: 'h', port: 5432 },
      list: [1, 2],
    });
    expect(parseDocument('properties', 'db.host=h\ndb.port = 5432\n')).toEqual({ db: { host: 'h', port: '5432' } });
    expect(parseDocument('yaml', '')).toEqual({});
  });

  it('rejects malformed documents and non-object tops', () => {
    expect(() => parseDocument('json', '{"db": ')).toThrow();
    expect(() => parseDocument('yaml', 'a: [1, 2')).toThrow();
    expect(() => parseDocument('json', '[1, 2]')).toThrow('expected an object at the top level, got an array');
    expect(() => parseDocument('yaml', 'just a string')).toThrow('expected an object at the top level, got string');
  });
});

describe('parseProperties', () => {
  it('reads the three separators, comments, continuations and escapes', () => {
    const text = [
      '# comment',
      '! also a comment',
      'a=1',
      'b: 2',
      'c 3',
      '  indented = yes  ',
      'long = first \\',
      '       second',
      'escaped\\ key = tab\\there',
      'unicode = caf\\u00e9',
      'empty =',
    ].join('\n');
    expect(parseProperties(text)).toEqual({
      a: '1',
      b: '2',
      c: '3',
      indented: 'yes  ',
      long: 'first second',
      'escaped key': 'tab\there',
      unicode: 'café',
      empty: '',
    });
  });

  it('names the line of a malformed escape', () => {
    expect(() => parseProperties('ok=1\nbad=\\u12')).toThrow('line 2: "\\u" must be followed by 4 hex digits');
  });
});
