import { describe, it, expect } from 'vitest';
import { formatSpan } from '../../src/time/duration.js';

describe('formatSpan', () => {
  it('writes measured spans with their two largest units', () => {
    expect(formatSpan(850)).toBe('850ms');
    expect(formatSpan(1038415)).toBe('17m 18s');
    expect(formatSpan(3_600_000)).toBe('1h');
    expect(formatSpan(3_660_000)).toBe('1h 1m');
    expect(formatSpan(86_400_000 + 4 * 3_600_000 + 59_000)).toBe('1d 4h');
    expect(formatSpan(86_400_000 + 59_000)).toBe('1d');
    expect(formatSpan(59_999)).toBe('59s');
  });
});
