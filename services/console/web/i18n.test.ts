import { afterEach, describe, expect, it } from 'vitest';
import { ANOMALY_DETAIL_FIELDS, REASON_PARAMS } from '@ridetally/reward/reason-codes';
import { LOCALES, MESSAGES, setLocale, translate, type MessageKey } from './i18n.js';
import { describeAnomalyDetails, describeReason, describeTie } from './reasons.js';

const placeholders = (s: string): string[] => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1] ?? '').sort();

describe('console dictionary', () => {
  it('has the same keys in Chinese and English, none empty', () => {
    const zh = Object.keys(MESSAGES['zh-CN']).sort();
    const en = Object.keys(MESSAGES.en).sort();
    expect(en).toEqual(zh);
    for (const table of Object.values(MESSAGES)) for (const v of Object.values(table)) expect(v.trim()).not.toBe('');
  });

  it('uses the same placeholders in both languages', () => {
    for (const key of Object.keys(MESSAGES['zh-CN']) as MessageKey[]) {
      expect([key, placeholders(MESSAGES.en[key])]).toEqual([key, placeholders(MESSAGES['zh-CN'][key])]);
    }
  });

  it('fills placeholders and leaves unknown ones visible', () => {
    expect(translate('zh-CN', 'rankings.count', { n: '1,234' })).toBe('共 1,234 人上榜');
    expect(translate('en', 'rankings.count', { n: '1,234' })).toBe('1,234 persons ranked');
    expect(translate('en', 'rankings.count')).toBe('{n} persons ranked');
  });

  it('is Chinese by default: the Chinese table has Chinese text for the shell', () => {
    expect(MESSAGES['zh-CN']['shell.title']).toMatch(/[\u4e00-\u9fff]/);
    expect(MESSAGES.en['shell.title']).not.toMatch(/[\u4e00-\u9fff]/);
  });
});

/** Latin words left in a Chinese sentence: anything but rule names (R16, R7/R9). */
const untranslated = (s: string): string[] => [...s.matchAll(/[A-Za-z]{2,}/g)].map((m) => m[0]);

describe('what the server explains, in the console language', () => {
  afterEach(() => setLocale('zh-CN'));

  it('has a message for every rule-explanation code the server sends, with exactly its parameters', () => {
    for (const [code, params] of Object.entries(REASON_PARAMS)) {
      const key = `reason.${code}` as MessageKey;
      for (const loc of LOCALES) expect([loc, key, [...new Set(placeholders(MESSAGES[loc][key] ?? ''))]]).toEqual([loc, key, [...params].sort()]);
    }
  });

  it('says every code, tie note and anomaly detail in Chinese, and in English when asked', () => {
    const english = 'the server sentence';
    for (const loc of LOCALES) {
      setLocale(loc);
      for (const [code, names] of Object.entries(REASON_PARAMS)) {
        const text = describeReason({ code, params: Object.fromEntries(names.map((n, i) => [n, 1000 + i])) }, english);
        expect(text).not.toBe(english);
        expect([code, text]).not.toEqual([code, expect.stringMatching(/[{}]/)]);
        if (loc === 'zh-CN') expect([code, untranslated(text)]).toEqual([code, []]);
      }
      for (const policy of ['shared', 'first-reached'] as const) {
        const text = describeTie({ policy, size: 3, rides: 120, rank: policy === 'shared' ? 9 : null, fromPosition: 9, toPosition: 11, listLine: 2000, tierBoundariesAfter: [10] }, english);
        expect(text).toContain('2,000');
        if (loc === 'zh-CN') expect([policy, untranslated(text)]).toEqual([policy, []]);
      }
      for (const [kind, fields] of Object.entries(ANOMALY_DETAIL_FIELDS)) {
        expect(MESSAGES[loc][`anomaly.kind.${kind}` as MessageKey]).toBeTruthy();
        const details = Object.fromEntries(fields.map((f, i) => [f, i % 2 ? 7 : ['2022-11-02T08:00:00Z', 12]]));
        const text = describeAnomalyDetails(details);
        for (const f of fields) expect(MESSAGES[loc][`anomaly.detail.${f}` as MessageKey]).toBeTruthy();
        if (loc === 'zh-CN') expect([kind, untranslated(text)]).toEqual([kind, []]);
      }
    }
  });

  it('falls back to the server sentence for a code it does not know yet', () => {
    expect(describeReason({ code: 'volume.somethingNew', params: {} }, 'R16: something new')).toBe('R16: something new');
    expect(describeReason(undefined, 'R16: old server')).toBe('R16: old server');
    expect(describeTie(null, 'R7: frozen note')).toBe('R7: frozen note');
  });
});
