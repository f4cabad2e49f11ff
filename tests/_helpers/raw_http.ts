/**
 * One HTTP/1.1 exchange over a raw connection to `url`'s port on 127.0.0.1: `request` goes as written
 * (a Host, a request target or a body length `fetch` would set or resolve otherwise), and the answer is
 * all relay writes until it closes. With `closeWrite`, the sending side is closed after the request, so
 * a body shorter than its `content-length` ends there; otherwise the request asks `connection: close`.
 *
 * @example
 * ```ts
 * const answer = await rawHttp(relay.url, "GET /health HTTP/1.1\r\nhost: evil.example\r\nconnection: close\r\n\r\n");
 * assert.match(answer, /^HTTP\/1\.1 403 /);
 * ```
 */
export async function rawHttp(url: string, request: string, { closeWrite = false } = {}): Promise<string> {
  const connection = await Deno.connect({ hostname: "127.0.0.1", port: Number(new URL(url).port) });
  await connection.write(new TextEncoder().encode(request));
  if (closeWrite) await connection.closeWrite();
  return await new Response(connection.readable).text();
}
