import { type RuleSet, type RuleSetDecorator, undecorated } from '../core/rule-set.js';

/**
 * The rules pipeline: the current config (`current`, e.g. the config
 * source's) through `decorate`, as the service's `rules` getter. A config is
 * decorated once, the first time it is read, and the result reused until
 * `current` returns another one: per request this costs a call and an
 * identity check, no allocation. With {@link undecorated} it is `current`
 * itself. `decorate` may take the config's own type (the adaptive engine reads
 * its controllers from it).
 */
export function decoratedRules<Config extends RuleSet>(
  current: () => Config | undefined,
  decorate: (config: Config) => RuleSet,
): () => RuleSet | undefined {
  if ((decorate as RuleSetDecorator) === undecorated) return current;
  let source: Config | undefined;
  let decorated: RuleSet | undefined;
  return () => {
    const rules = current();
    if (rules !== source) {
      source = rules;
      decorated = rules === undefined ? undefined : decorate(rules);
    }
    return decorated;
  };
}
