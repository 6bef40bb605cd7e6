import { ensureTemplate } from './index';

/** Vitest global setup: build the migrated template once before the test files clone it. */
export default async function setup(): Promise<void> {
  await ensureTemplate();
}
