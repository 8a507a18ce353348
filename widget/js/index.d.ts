/** Options of `render()`; each can also be a `data-*` attribute of the element. */
export interface RenderOptions {
  /** The site's public key. */
  sitekey: string;
  /** The verifier's base URL, e.g. "https://captcha.example.com". */
  verifier?: string;
  /** Called with the verdict token once it is in the form. */
  callback?: (token: string) => void;
  /** Called when the token expired (a new one follows unless refresh-expired is "manual"). */
  'expired-callback'?: () => void;
  /** Called with an error code: "network", "invalid_site_key", "origin_not_allowed", "rate_limited"... */
  'error-callback'?: (code: string) => void;
  theme?: 'light' | 'dark' | 'auto';
  /** A language tag ("en", "fr", "zh"...); default: the page's, then the browser's. */
  language?: string;
  /** Names the form's purpose ("login", "signup"); returned by /verify. */
  action?: string;
  /** Customer data returned by /verify. */
  cdata?: string;
  size?: 'normal' | 'compact' | 'invisible';
  /** "render": verify on first interaction; "execute": only on execute() or submit. */
  execution?: 'render' | 'execute';
  /** Name of the hidden form field; default "_co_verdict". */
  'response-field-name'?: string;
  'response-field'?: boolean;
  'refresh-expired'?: 'auto' | 'manual';
  /** Most time spent on the proof of work before escalating, ms; default 2000. */
  'budget-ms'?: number;
}

export type WidgetId = number;

export function configure(settings: { verifier?: string; createWorker?: () => Worker; wasm?: string | URL }): void;
export function ready(): Promise<unknown>;
export function render(el: HTMLElement | string, options?: RenderOptions): Promise<WidgetId>;
export function renderAll(root?: ParentNode): Promise<WidgetId[]>;
export function reset(id?: WidgetId | HTMLElement): void;
export function getResponse(id?: WidgetId | HTMLElement): string | undefined;
export function execute(id?: WidgetId | HTMLElement): Promise<string>;
export function isExpired(id?: WidgetId | HTMLElement): boolean;
export function remove(id?: WidgetId | HTMLElement): void;
