import net from 'node:net';

/** Resolves when nothing listens on host:port; rejects with a message that names the service. */
export async function assertPortFree(port: number, host: string, what: string): Promise<void> {
  const inUse = await new Promise<boolean>((resolve) => {
    const srv = net.createServer();
    srv.once('error', (err: NodeJS.ErrnoException) =>
      resolve(err.code === 'EADDRINUSE' || err.code === 'EACCES'),
    );
    srv.once('listening', () => srv.close(() => resolve(false)));
    srv.listen(port, host);
  });
  if (inUse) {
    throw new Error(`port ${host}:${port} is already in use; it is needed for ${what}`);
  }
}

/** A port that was free a moment ago (for tests and ephemeral services). */
export async function getFreePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}
