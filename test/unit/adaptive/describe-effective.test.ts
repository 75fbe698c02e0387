import { describe, expect, it } from 'vitest';
import { AdaptiveEngine } from '../../../src/adaptive/adaptive-engine.js';
import { abuseParams, errorRateParams } from '../../../src/adaptive/controller-params.js';
import { createMemoryAdaptiveState } from '../../../src/adaptive/memory-adaptive-state.js';
import { silentLogger } from '../../../src/log/logger.js';
import { ManualClock } from '../../support/manual-clock.js';

const T0 = 1_700_000_000_000;
const LINES = [
  'api.path_/checkout: unit=SECOND requests_per_unit=100, shadow_mode: false, quota_mode: false, adaptive: [health]',
  'api.plain: unit=SECOND requests_per_unit=7, shadow_mode: false, quota_mode: false',
  'api.tb: unit=SECOND requests_per_unit=10 algorithm=token_bucket burst=40, shadow_mode: false, quota_mode: false, adaptive: [health, abusers]',
  'api.v1.ip: unit=MINUTE requests_per_unit=600, shadow_mode: false, quota_mode: false, adaptive: [quiet]',
];

async function engineAtHalf(shadowMode = false) {
  const clock = new ManualClock(T0);
  const engine = new AdaptiveEngine({
    state: createMemoryAdaptiveState({ clock }),
    clock,
    logger: silentLogger(),
  });
  engine.configure(
    new Map([
      ['api', [errorRateParams({ name: 'health', shadowMode }), abuseParams({ name: 'abusers' })]],
      ['api.v1', [errorRateParams({ name: 'quiet' })]],
    ]),
  );
  engine.errorRate('api', 'health', 100, 90);
  engine.penalize('api', 'abusers', '1.2.3.4', 60_000, 'waf');
  clock.set(T0 + 5_000 + engine.closeDelayMs);
  await engine.tick();
  return engine;
}

describe('/rlconfig effective limits', () => {
  it('appends the effective limit, scaled as answers scale it, to adaptive lines only', async () => {
    const engine = await engineAtHalf();
    expect(engine.describe(LINES, ['api', 'api.v1'])).toEqual([
      `${LINES[0]}, effective: requests_per_unit=50 (factor 0.5)`,
      LINES[1],
      `${LINES[2]}, effective: requests_per_unit=5 burst=20 (factor 0.5; abusers: 1 values penalized to factor 0.1)`,
      // the longest domain prefix wins: api.v1's own controller, at factor 1
      `${LINES[3]}, effective: requests_per_unit=600 (factor 1)`,
    ]);
  });

  it('shows what a shadow-mode controller would apply without applying it', async () => {
    const engine = await engineAtHalf(true);
    expect(engine.describe([LINES[0]!], ['api'])).toEqual([
      `${LINES[0]}, effective: requests_per_unit=100 (factor 1; health shadow: would apply 0.5)`,
    ]);
  });
});
