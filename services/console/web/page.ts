/** What the router hands a page. */
export interface PageContext {
  main: HTMLElement;
  params: Record<string, string | undefined>;
  query: URLSearchParams;
  navigate: (href: string) => void;
}

export type Page = (ctx: PageContext) => Promise<void> | void;
