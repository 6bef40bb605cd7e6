/** Fare media a validator reads (SPEC §3). */
export const MEDIA_TYPES = ['transit_card', 'ecard', 'qr', 'id_card'] as const;
export type MediaType = (typeof MEDIA_TYPES)[number];

/** Card kinds of a transit_card. */
export const CARD_KINDS = [
  'normal', // 普通卡
  'senior', // 爱心卡
  'discount', // 优惠卡
  'teacher', // 教师卡
] as const;
export type CardKind = (typeof CARD_KINDS)[number];

/** Issuers of an ecard. */
export const ECARD_ISSUERS = [
  'lvliang_union', // 吕梁交通联合电子卡
  'alipay', // 支付宝公交电子卡
  'cmcc_sim', // 移动超级SIM卡
] as const;
export type EcardIssuer = (typeof ECARD_ISSUERS)[number];

/** Which kinds a media type takes (empty: none allowed). */
export function kindsForMediaType(type: MediaType): readonly string[] {
  switch (type) {
    case 'transit_card':
      return CARD_KINDS;
    case 'ecard':
      return ECARD_ISSUERS;
    case 'qr':
    case 'id_card':
      return [];
  }
}
