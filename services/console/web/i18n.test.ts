import { describe, expect, it } from 'vitest';
import { MESSAGES, translate, type MessageKey } from './i18n.js';

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
