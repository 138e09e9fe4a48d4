import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/**
 * The one helper for every call to the server: ``path`` is relative to
 * ``<base_url>clusterkit/`` (``api/clusters``, ``dashboard/<id>/individual-plots.json``).
 * Authentication and the XSRF header come from ServerConnection. Errors carry the
 * server's message.
 */
export async function requestAPI<T>(path: string, init: RequestInit = {}): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'clusterkit', path);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new ServerConnection.NetworkError(error as TypeError);
  }
  const text = await response.text();
  let data: unknown = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (!response.ok) {
    const message =
      data && typeof data === 'object' && 'message' in data
        ? String((data as { message: unknown }).message)
        : response.statusText;
    throw new ServerConnection.ResponseError(response, message);
  }
  return data as T;
}

/** The URL of a path of a cluster's proxied dashboard, for iframes. */
export function dashboardURL(id: string, path: string): string {
  const settings = ServerConnection.makeSettings();
  return URLExt.join(settings.baseUrl, 'clusterkit', 'dashboard', encodeURIComponent(id), path.replace(/^\/+/, ''));
}
