/** What a page's asset module exports: its files by path, with their content type. */
export interface Asset {
  type: string;
  body: string;
}

export const CSS_TYPE = 'text/css; charset=utf-8';
export const JS_TYPE = 'text/javascript; charset=utf-8';
