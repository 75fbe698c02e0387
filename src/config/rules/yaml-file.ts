import {
  type Alias,
  Document,
  isScalar,
  LineCounter,
  type Node,
  parseAllDocuments,
  Scalar,
  type Tags,
  visit,
} from 'yaml';
import type { ConfigProblem } from '../../core/errors.js';
import { type ConfigLimits, DEFAULT_CONFIG_LIMITS, formatCount } from './config-limits.js';
import { plainScalar } from './plain-scalar.js';

/** One config file being validated: its parsed document, positions and the problems found so far. */
export interface YamlFile {
  readonly path: string;
  readonly doc: Document;
  readonly lines: LineCounter;
  /** The first problems found: at most `limits.maxProblems` are kept (see {@link report}). */
  readonly problems: ConfigProblem[];
  /** Every problem found, kept or not. */
  problemCount: number;
  readonly limits: ConfigLimits;
  /** Collections that may still be revisited through aliases (`limits.maxAliasNodes`). */
  budget: number;
  /** Collections visited at least once. */
  readonly seen: WeakSet<object>;
  /** Collections being walked right now, to catch an anchor whose value contains itself. */
  readonly active: Set<object>;
  /**
   * Each alias of the document and the node it refers to (undefined: unknown anchor), found
   * in one pass at parse time: the yaml package's `Alias.resolve` walks the document on every
   * call, quadratic in a file with many aliases.
   */
  readonly aliases: Map<object, Node | undefined>;
}

/**
 * YAML 1.1 like the reference's gopkg.in/yaml.v2 (`<<` merges maps, explicit `!!int` and
 * the like), minus what yaml.v2 does not do either: sexagesimal numbers (`1:20`) and
 * timestamps stay strings. Untagged plain scalars are then retyped by {@link typeAsGoYaml}.
 */
const PARSE_OPTIONS = {
  version: '1.1',
  prettyErrors: false,
  customTags: (tags: Tags): Tags =>
    tags.filter(
      (t) => typeof t === 'string' || (t.tag !== 'tag:yaml.org,2002:timestamp' && t.format !== 'TIME'),
    ),
} as const;

/**
 * Records a problem at a character offset of the file. Past `limits.maxProblems` problems
 * are only counted: an alias bomb or a huge broken file must not build a list of millions.
 */
export function report(file: YamlFile, offset: number, message: string): void {
  file.problemCount++;
  if (file.problems.length >= file.limits.maxProblems) return;
  const { line, col } = file.lines.linePos(offset);
  file.problems.push({ file: file.path, line, col, message: shorten(message) });
}

/** Longest problem message, characters: one quoting a huge scalar or list is cut. */
const MAX_MESSAGE_LENGTH = 500;

function shorten(message: string): string {
  if (message.length <= MAX_MESSAGE_LENGTH) return message;
  return `${message.slice(0, MAX_MESSAGE_LENGTH)}… (${formatCount(message.length)} characters)`;
}

/** A parsed file: `root` is the document's top node, undefined when the file holds no document. */
export interface ParsedYaml {
  readonly file: YamlFile;
  readonly root: unknown;
  /** False when the file has syntax errors; its tree is then not validated further. */
  readonly ok: boolean;
}

/**
 * Parses one file, reporting every syntax error with its position and any second
 * non-empty document (yaml.v2 silently ignores those; a lost domain is better loud).
 */
export function parseYamlFile(
  path: string,
  content: string,
  limits: ConfigLimits = DEFAULT_CONFIG_LIMITS,
): ParsedYaml {
  const lines = new LineCounter();
  const docs = parseAllDocuments(content, { ...PARSE_OPTIONS, lineCounter: lines });
  const aliases = new Map<object, Node | undefined>();
  for (const d of docs) typeAsGoYaml(d, aliases);
  const first = docs[0];
  const doc: Document = first ?? new Document();
  const file: YamlFile = {
    path,
    doc,
    lines,
    problems: [],
    problemCount: 0,
    limits,
    budget: limits.maxAliasNodes,
    seen: new WeakSet(),
    active: new Set(),
    aliases,
  };
  for (const d of docs) {
    for (const e of d.errors) report(file, e.pos[0], `error loading config file: yaml: ${e.message}`);
  }
  for (const extra of docs.slice(1)) {
    if (!isEmptyNode(extra.contents)) {
      report(
        file,
        extra.range[0],
        'config file contains more than one YAML document; put each domain in its own file',
      );
    }
  }
  return { file, root: first?.contents ?? undefined, ok: file.problems.length === 0 };
}

/**
 * Gives every untagged plain scalar the value yaml.v2 resolves it to (see plain-scalar.ts):
 * the yaml package's YAML 1.1 schema differs in places (it reads `e1` as a float, `0o17`
 * as a string, `08` as an int). Merge keys keep the package's marker.
 *
 * In the same pass, maps each alias to its target: the closest anchor of that name before
 * it in document order, as yaml.v2 and the yaml package resolve it.
 */
function typeAsGoYaml(doc: Document, aliases: Map<object, Node | undefined>): void {
  const anchors = new Map<string, Node>();
  const anchored = (node: Node): void => {
    if (node.anchor !== undefined) anchors.set(node.anchor, node);
  };
  visit(doc, {
    Scalar(_, node) {
      anchored(node);
      if (node.type === Scalar.PLAIN && node.tag === undefined && typeof node.value !== 'symbol') {
        node.value = plainScalar(node.source ?? '').value;
      }
    },
    Map: (_, node) => anchored(node),
    Seq: (_, node) => anchored(node),
    Alias(_, node: Alias) {
      aliases.set(node, anchors.get(node.source));
    },
  });
}

/** True for a missing node or a null scalar (`~`, `null` or nothing at all). */
export function isEmptyNode(node: unknown): boolean {
  return node === null || node === undefined || (isScalar(node) && node.value === null);
}

/**
 * Starts walking a collection: false (after reporting) when the file's node budget is spent
 * or when the node is already being walked (an anchor that contains its own alias).
 */
export function enter(file: YamlFile, node: object, offset: number, anchor: string | undefined): boolean {
  if (file.active.has(node)) {
    report(file, offset, `error loading config file: yaml: anchor '${anchor ?? ''}' value contains itself`);
    return false;
  }
  if (!file.seen.has(node)) file.seen.add(node);
  else file.budget -= 1;
  if (file.budget < 0) {
    if (file.budget === -1) {
      const max = formatCount(file.limits.maxAliasNodes);
      report(
        file,
        offset,
        `config error, aliases expand the file beyond ${max} repeated maps and lists (CONFIG_MAX_ALIAS_NODES)`,
      );
    }
    return false;
  }
  file.active.add(node);
  return true;
}

/** Ends walking a collection started with {@link enter}. */
export function leave(file: YamlFile, node: object): void {
  file.active.delete(node);
}
