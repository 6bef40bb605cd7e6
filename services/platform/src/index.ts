export { createPlatform, type Platform, type PlatformDeps } from './platform';
