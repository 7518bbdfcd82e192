// The session a web app signs in with (the admin app's, a tenant app's). HesaabPlus's login hands it
// over once in the link's fragment (`/admin/#session=…`, `/app/#session=…`), which browsers never
// send to a server; it is kept for this tab only (sessionStorage) and removed from the address bar.

export interface BrowserSession {
  /** Takes a session from the address bar's fragment, if there is one; returns the tab's session. */
  take(): string | null;
  /** Signs in with `token`, or out (null). */
  set(token: string | null): void;
  /** The request headers that carry the session (`Authorization: Bearer …`), none when signed out. */
  headers(): Record<string, string>;
  /**
   * The connection parameters that carry the session on a subscription (`{ token }`): an EventSource
   * cannot send headers, and the gateway takes the session from these for subscriptions only.
   */
  connectionParams(): Record<string, string>;
}

export function browserSession(storageKey: string): BrowserSession {
  return {
    take() {
      const fromLink = new URLSearchParams(window.location.hash.slice(1)).get("session");
      if (fromLink) {
        sessionStorage.setItem(storageKey, fromLink);
        history.replaceState(null, "", window.location.pathname);
      }
      return sessionStorage.getItem(storageKey);
    },
    set(token) {
      if (token) sessionStorage.setItem(storageKey, token);
      else sessionStorage.removeItem(storageKey);
    },
    headers(): Record<string, string> {
      const token = sessionStorage.getItem(storageKey);
      return token ? { authorization: `Bearer ${token}` } : {};
    },
    connectionParams(): Record<string, string> {
      const token = sessionStorage.getItem(storageKey);
      return token ? { token } : {};
    },
  };
}
