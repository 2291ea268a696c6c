import { SMTPServer } from 'smtp-server';

/**
 * An SMTP relay that demands a login, so a test can hand NotificationService
 * an SMTP password (the dev mail sink in tools/dev takes mail from anyone)
 * and see it used. Counts accepted messages and rejected logins.
 */
export async function startAuthenticatingSmtp(user: string, password: string) {
  const stats = { accepted: 0, badLogins: 0 };
  const server = new SMTPServer({
    allowInsecureAuth: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === user && auth.password === password) return callback(null, { user });
      stats.badLogins += 1;
      return callback(new Error('invalid login'));
    },
    onData(stream, _session, callback) {
      stream.resume();
      stream.on('end', () => {
        stats.accepted += 1;
        callback();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    stats,
    url: `smtp://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
