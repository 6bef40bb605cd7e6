/**
 * Masked names for public lists (SPEC §5): first and last character kept, the rest starred;
 * a two-character name keeps its first: 张*三, 欧**娜, 张*. Works on code points, not UTF-16 units.
 */
export function maskName(name: string): string {
  const chars = Array.from(name.trim());
  if (chars.length === 0) return '';
  if (chars.length === 1) return '*';
  if (chars.length === 2) return `${chars[0]}*`;
  return `${chars[0]}${'*'.repeat(chars.length - 2)}${chars[chars.length - 1]}`;
}
