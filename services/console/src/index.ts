/** The staff web console, served by the reward service and the all-in-one platform. */
export { createConsoleRouter, CONSOLE_CSP, type ConsoleRouterOptions } from './console.routes';
