import type { AbuseRuntime } from './abuse-runtime.js';
import type { ErrorRateRuntime } from './error-rate-runtime.js';
import { quantizeFactor, scaledCount } from './scaled-rules.js';

const ADAPTIVE_SUFFIX = /, adaptive: \[([^\]]*)\]$/;
const COUNT = /(requests_per_unit|burst)=(\d+)/g;

/**
 * `/rlconfig` with effective limits: each line of an adaptive rule (ending in
 * `, adaptive: [names]`) gets `, effective: requests_per_unit=<n>[ burst=<n>] (factor <f>)`,
 * the limit answers use now, scaled exactly as the rules decorator scales it; penalties,
 * which depend on the value, are listed as a count; shadow-mode controllers say what
 * they would apply. Other lines are unchanged.
 */
export function describeEffective(
  lines: readonly string[],
  domains: readonly string[],
  controller: (domain: string, name: string) => ErrorRateRuntime | AbuseRuntime | undefined,
): string[] {
  const byLength = [...domains].sort((a, b) => b.length - a.length);
  return lines.map((line) => {
    const suffix = ADAPTIVE_SUFFIX.exec(line);
    const domain = byLength.find((d) => line.startsWith(`${d}.`));
    if (suffix === null || domain === undefined) return line;
    let factor = 1;
    const notes: string[] = [];
    for (const name of suffix[1]!.split(', ')) {
      const runtime = controller(domain, name);
      if (runtime === undefined) continue;
      if (runtime.type === 'error_rate') {
        if (runtime.shadowMode) notes.push(`${name} shadow: would apply ${runtime.computed}`);
        else factor *= runtime.enforced;
      } else {
        const boxed = runtime.boxed.size;
        const shadow = runtime.shadowMode ? ' shadow: not applied' : '';
        notes.push(`${name}: ${boxed} values penalized to factor ${runtime.params.penalty.factor}${shadow}`);
      }
    }
    const steps = quantizeFactor(factor);
    const limits = line.slice(line.indexOf(': ') + 2).match(COUNT) ?? [];
    const scaled = limits.map((m) => {
      const [field, count] = m.split('=') as [string, string];
      return `${field}=${scaledCount(Number(count), steps)}`;
    });
    const extra = notes.length === 0 ? '' : `; ${notes.join('; ')}`;
    return `${line}, effective: ${scaled.join(' ')} (factor ${factor}${extra})`;
  });
}
