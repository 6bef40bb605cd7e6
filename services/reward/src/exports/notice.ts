/**
 * The public notice (公示) of a list: an HTML page and a printable PDF. Masked names (张*三, 张*),
 * employer names, rides, rank and award; never ID numbers or person ids. The PDF embeds a CJK font:
 * pdfkit cannot draw Chinese with its standard fonts. The font is looked up at RIDETALLY_CJK_FONT or
 * the Debian locations of WenQuanYi Micro Hei / Zen Hei / Noto CJK (install `fonts-wqy-microhei`).
 */
import { existsSync } from 'node:fs';
import PDFDocument from 'pdfkit';
import { AppError } from '@ridetally/http';

export interface NoticeRow {
  rank: number;
  nameMasked: string;
  employerName: string | null;
  rides: number;
  awardCny: number | null;
}

export interface NoticeContent {
  title: string;
  period: string;
  kind: 'quarterly' | 'annual';
  version: number;
  noticeStart: string | null;
  noticeEnd: string | null;
  rows: NoticeRow[];
  totalCny: number | null;
  contentSha256: string;
}

export const CJK_FONT_CANDIDATES = [
  '/usr/share/fonts/truetype/wqy/wqy-microhei.ttc',
  '/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc',
  '/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc',
];

/** The CJK font to embed, or undefined when none is installed. */
export function findCjkFont(explicit?: string): { path: string; family?: string } | undefined {
  const fromEnv = explicit ?? process.env.RIDETALLY_CJK_FONT;
  if (fromEnv) return existsSync(fromEnv) ? { path: fromEnv } : undefined;
  for (const p of CJK_FONT_CANDIDATES) {
    if (!existsSync(p)) continue;
    if (p.endsWith('wqy-microhei.ttc')) return { path: p, family: 'WenQuanYiMicroHei' };
    if (p.endsWith('wqy-zenhei.ttc')) return { path: p, family: 'WenQuanYiZenHei' };
    return { path: p, family: 'NotoSansCJKsc-Regular' };
  }
  return undefined;
}

export function noticeTitle(kind: 'quarterly' | 'annual', period: string): string {
  if (kind === 'annual') return `吕梁市区免费公交 ${period} 年度乘车奖励名单公示`;
  const [y, q] = period.split('-Q');
  return `吕梁市区免费公交 ${y} 年第 ${q} 季度乘车排名公示`;
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export function renderNoticeHtml(n: NoticeContent): string {
  const award = n.kind === 'annual';
  const rows = n.rows
    .map((r) => `<tr><td>${r.rank}</td><td>${esc(r.nameMasked)}</td><td>${esc(r.employerName ?? '')}</td><td>${r.rides}</td>${award ? `<td>${r.awardCny ?? ''}</td>` : ''}</tr>`)
    .join('\n');
  return `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>${esc(n.title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:"Noto Sans CJK SC","WenQuanYi Micro Hei","PingFang SC","Microsoft YaHei",sans-serif;margin:2rem}table{border-collapse:collapse}td,th{border:1px solid #999;padding:.2rem .6rem;text-align:left}</style>
</head><body>
<h1>${esc(n.title)}</h1>
<p>公示期：${esc(n.noticeStart ?? '—')} 至 ${esc(n.noticeEnd ?? '—')}（北京时间）。名单版本 ${n.version}。如有异议，请在公示期内向市交通运输局领导小组办公室反映。</p>
<table><thead><tr><th>名次</th><th>姓名</th><th>单位</th><th>乘车次数</th>${award ? '<th>奖励（元）</th>' : ''}</tr></thead>
<tbody>
${rows}
</tbody></table>
${award && n.totalCny !== null ? `<p>奖励合计：${n.totalCny} 元</p>` : ''}
<p><small>SHA-256: ${esc(n.contentSha256)}</small></p>
</body></html>
`;
}

export async function renderNoticePdf(n: NoticeContent, fontPath?: string): Promise<Buffer> {
  const font = findCjkFont(fontPath);
  if (!font) throw new AppError('unavailable', 'no CJK font is installed for PDF notices (install fonts-wqy-microhei or set RIDETALLY_CJK_FONT)');
  const doc = new PDFDocument({ size: 'A4', margin: 50, info: { Title: n.title, Creator: 'ridetally' } });
  const chunks: Buffer[] = [];
  doc.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });
  doc.registerFont('cjk', font.path, font.family);
  doc.font('cjk');
  doc.fontSize(16).text(n.title, { align: 'center' });
  doc.moveDown(0.5);
  doc.fontSize(10).text(`公示期：${n.noticeStart ?? '—'} 至 ${n.noticeEnd ?? '—'}（北京时间）  名单版本 ${n.version}`);
  doc.moveDown(0.5);
  const award = n.kind === 'annual';
  const cols = award ? [50, 100, 190, 400, 470] : [50, 100, 190, 430];
  const header = award ? ['名次', '姓名', '单位', '乘车次数', '奖励（元）'] : ['名次', '姓名', '单位', '乘车次数'];
  const line = (cells: string[]) => {
    if (doc.y > doc.page.height - 70) doc.addPage();
    const y = doc.y;
    cells.forEach((c, i) => doc.text(c, cols[i], y, { width: (cols[i + 1] ?? 545) - cols[i]! - 4, lineBreak: false }));
    doc.x = 50;
    doc.y = y + 14;
  };
  line(header);
  for (const r of n.rows) {
    line([String(r.rank), r.nameMasked, r.employerName ?? '', String(r.rides), ...(award ? [String(r.awardCny ?? '')] : [])]);
  }
  if (award && n.totalCny !== null) {
    doc.moveDown();
    doc.text(`奖励合计：${n.totalCny} 元`, 50);
  }
  doc.moveDown();
  doc.fontSize(7).text(`SHA-256: ${n.contentSha256}`, 50);
  doc.end();
  return done;
}
