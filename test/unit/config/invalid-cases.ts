/** An invalid fixture (file or directory), the exact problem lines it must produce, and MERGE_DOMAIN_CONFIG. */
export type InvalidCase = [fixture: string, expected: readonly string[], mergeDomains?: boolean];

/** `config error, '<name>' must be <type>` (the start of every wrong-type message). */
export const MUST = (name: string, type: string) =>
  `config error, '${name}' must be ${type === 'string' ? 'a string' : type}`;
const UINT = (found: string) =>
  `${MUST('requests_per_unit', 'an integer from 0 to 4294967295')}, found ${found}`;

/**
 * One fixture per validation rule (test/fixtures/config/invalid), with the exact
 * `file:line:col: message` lines it must produce. Messages after the position are the
 * reference's texts where it has one (envoyproxy/ratelimit src/config/config_impl.go); the
 * rest are our stricter checks.
 */
export const CASES: readonly InvalidCase[] = [
  // --- the reference's rules and texts
  [
    'yaml-syntax-error.yaml',
    [
      'yaml-syntax-error.yaml:5:1: error loading config file: yaml: Flow map in block collection must be sufficiently indented and end with a }',
    ],
  ],
  [
    'duplicate-map-key.yaml',
    ['duplicate-map-key.yaml:4:5: error loading config file: yaml: Map keys must be unique'],
  ],
  ['unknown-key.yaml', ["unknown-key.yaml:4:5: config error, unknown key 'ratelimit'"]],
  [
    'unknown-key-in-rate-limit.yaml',
    ["unknown-key-in-rate-limit.yaml:6:7: config error, unknown key 'requestsperunit'"],
  ],
  ['key-not-string.yaml', ['key-not-string.yaml:4:5: config error, key is not of type string: 0.25']],
  [
    'list-of-non-map.yaml',
    [
      'list-of-non-map.yaml:2:15: config error, yaml file contains list of type other than map: a',
      'list-of-non-map.yaml:2:18: config error, yaml file contains list of type other than map: b',
    ],
  ],
  [
    'replaces-item-not-map.yaml',
    ['replaces-item-not-map.yaml:7:18: config error, yaml file contains list of type other than map: other'],
  ],
  ['empty-domain.yaml', ['empty-domain.yaml:1:9: config file cannot have empty domain']],
  ['missing-domain.yaml', ['missing-domain.yaml:2:1: config file cannot have empty domain']],
  ['duplicate-domain', ["duplicate-domain/b.yaml:1:9: duplicate domain 'test' in config file"]],
  [
    'empty-descriptor-key.yaml',
    [
      'empty-descriptor-key.yaml:3:5: descriptor has empty key',
      'empty-descriptor-key.yaml:5:10: descriptor has empty key',
    ],
  ],
  [
    'duplicate-composite-key.yaml',
    ["duplicate-composite-key.yaml:6:5: duplicate descriptor composite key 'test-domain.key1_value1'"],
  ],
  [
    'duplicate-composite-key-nested.yaml',
    ["duplicate-composite-key-nested.yaml:7:9: duplicate descriptor composite key 'd.a.b_c'"],
  ],
  [
    'duplicate-composite-key-collision.yaml',
    ["duplicate-composite-key-collision.yaml:6:5: duplicate descriptor composite key 'd.a_b'"],
  ],
  [
    'duplicate-key-across-merged-files',
    ["duplicate-key-across-merged-files/b.yaml:4:5: duplicate descriptor composite key 'test.a'"],
    true,
  ],
  ['invalid-unit.yaml', ["invalid-unit.yaml:5:13: invalid rate limit unit 'foo'"]],
  ['missing-unit.yaml', ["missing-unit.yaml:4:5: invalid rate limit unit ''"]],
  ['unknown-unit.yaml', ["unknown-unit.yaml:5:13: invalid rate limit unit 'unknown'"]],
  [
    'unlimited-with-unit.yaml',
    ['unlimited-with-unit.yaml:6:13: should not specify rate limit unit when unlimited'],
  ],
  ['empty-replaces-entry.yaml', ['empty-replaces-entry.yaml:9:17: should not have an empty replaces entry']],
  [
    'replaces-own-name.yaml',
    ['replaces-own-name.yaml:9:17: replaces should not contain name of same descriptor'],
  ],
  [
    'share-threshold-without-wildcard.yaml',
    [
      "share-threshold-without-wildcard.yaml:5:22: share_threshold can only be used with wildcard values (containing '*'), but found key 'key_value'",
    ],
  ],
  [
    'unknown-anchor.yaml',
    ["unknown-anchor.yaml:2:14: error loading config file: yaml: unknown anchor 'missing' referenced"],
  ],
  [
    'anchor-contains-itself.yaml',
    [
      "anchor-contains-itself.yaml:4:18: error loading config file: yaml: anchor 'list' value contains itself",
    ],
  ],
  // --- stricter than the reference: keys at the wrong level
  [
    'misplaced-key-in-rate-limit.yaml',
    [
      "misplaced-key-in-rate-limit.yaml:7:7: config error, key 'shadow_mode' is not allowed in 'rate_limit'; it belongs in a descriptor",
    ],
  ],
  [
    'misplaced-key-in-descriptor.yaml',
    [
      "misplaced-key-in-descriptor.yaml:4:5: config error, key 'unit' is not allowed in a descriptor; it belongs in 'rate_limit' or in a 'rate_limits' entry",
      "misplaced-key-in-descriptor.yaml:5:5: config error, key 'requests_per_unit' is not allowed in a descriptor; it belongs in 'rate_limit' or in a 'rate_limits' entry",
    ],
  ],
  [
    'misplaced-key-at-top-level.yaml',
    [
      "misplaced-key-at-top-level.yaml:2:1: config error, key 'key' is not allowed at the top level; it belongs in a descriptor",
    ],
  ],
  [
    'misplaced-name-in-descriptor.yaml',
    [
      "misplaced-name-in-descriptor.yaml:4:5: config error, key 'name' is not allowed in a descriptor; it belongs in 'rate_limit', in a 'rate_limits' entry or in a 'replaces' entry",
    ],
  ],
  // --- stricter than the reference: wrong types, with what was found
  ['requests-per-unit-negative.yaml', [`requests-per-unit-negative.yaml:4:51: ${UINT('integer -1')}`]],
  [
    'requests-per-unit-too-large.yaml',
    [`requests-per-unit-too-large.yaml:4:51: ${UINT('integer 4294967296')}`],
  ],
  [
    'requests-per-unit-not-integer.yaml',
    [
      `requests-per-unit-not-integer.yaml:4:51: ${UINT("string '10'")}`,
      `requests-per-unit-not-integer.yaml:6:51: ${UINT('float 1.5')}`,
    ],
  ],
  [
    'bool-not-bool.yaml',
    [
      `bool-not-bool.yaml:4:18: ${MUST('shadow_mode', 'true or false')}, found string 'true'`,
      `bool-not-bool.yaml:5:29: ${MUST('unlimited', 'true or false')}, found integer 1`,
    ],
  ],
  [
    'descriptors-not-list.yaml',
    [`descriptors-not-list.yaml:3:3: ${MUST('descriptors', 'a list')}, found a map`],
  ],
  ['metadata-not-map.yaml', [`metadata-not-map.yaml:4:15: ${MUST('metadata', 'a map')}, found a list`]],
  [
    'metadata-unsupported-value.yaml',
    ['metadata-unsupported-value.yaml:4:15: error parsing metadata: unsupported value of type Buffer'],
  ],
  [
    'rate-limit-not-map.yaml',
    [`rate-limit-not-map.yaml:4:17: ${MUST('rate_limit', 'a map')}, found string '5/second'`],
  ],
  [
    'string-field-float.yaml',
    [`string-field-float.yaml:4:12: ${MUST('value', 'string')}, found float 1.5 (quote it: '1.5')`],
  ],
  [
    'string-field-not-scalar.yaml',
    [`string-field-not-scalar.yaml:3:10: ${MUST('key', 'string')}, found a list`],
  ],
  [
    'merge-key-not-map.yaml',
    ["merge-key-not-map.yaml:3:9: config error, merge key '<<' must refer to a map"],
  ],
  // --- stricter than the reference: whole-file shape
  [
    'empty-file.yaml',
    ["empty-file.yaml:1:1: config file is empty; it must be a map with 'domain' and 'descriptors'"],
  ],
  [
    'file-not-map.yaml',
    ["file-not-map.yaml:1:1: config file must be a map with 'domain' and 'descriptors', found a list"],
  ],
  [
    'multiple-documents.yaml',
    [
      'multiple-documents.yaml:2:1: config file contains more than one YAML document; put each domain in its own file',
    ],
  ],
  [
    'alias-expansion-too-large.yaml',
    [
      'alias-expansion-too-large.yaml:5:43: config error, aliases expand the file beyond 100,000 repeated maps and lists (CONFIG_MAX_ALIAS_NODES)',
    ],
  ],
  // --- every problem, in file order then position order
  [
    'every-problem-reported.yaml',
    [
      "every-problem-reported.yaml:5:13: invalid rate limit unit 'fortnight'",
      'every-problem-reported.yaml:11:13: should not specify rate limit unit when unlimited',
      'every-problem-reported.yaml:13:9: descriptor has empty key',
      "every-problem-reported.yaml:15:26: share_threshold can only be used with wildcard values (containing '*'), but found key 'c'",
      "every-problem-reported.yaml:16:5: duplicate descriptor composite key 'test.a'",
    ],
  ],
  [
    'problems-in-several-files',
    [
      "problems-in-several-files/a.yaml:4:24: invalid rate limit unit 'weekly'",
      'problems-in-several-files/b.yaml:3:10: descriptor has empty key',
    ],
  ],
];
