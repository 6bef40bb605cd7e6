/** The reward service: staff API (rankings, lists, workflow, exports, operator scoring). */
export { createRewardApp, createRewardRouter, SESSION_COOKIE } from './app';
export type { RewardDeps } from './deps';
export { toContext, toolContext } from './deps';
export { ENDPOINTS } from './routes/endpoints';
export type { AnyEndpoint } from './routes/endpoint';
export { buildOpenApiDocument } from './openapi';
export { STAFF_ROLES, type Role } from './roles';
export { createStaffUser } from './auth/auth.service';
export { hashPassword, verifyPassword } from './auth/password';
export { liveRanking } from './rankings.service';
export { createSnapshot, createCorrection, getSnapshot, findSnapshots, verifySnapshot, snapshotDrift } from './snapshots.service';
export { transition, recordObjection, settleObjection, recordPayment, excludeFromSnapshot } from './workflow.service';
export { exportRanking, exportSnapshot, noticeHtml, noticePdf, exportPaymentList, streamTides, RANKING_COLUMNS, rankingCells } from './exports.service';
export { toCsv, toXlsx } from './exports/tabular';
export { volumeReport, operatorScore, enterItem, setTarget, setBudget } from './assessment.service';
