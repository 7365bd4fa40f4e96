/**
 * Throwaway TLS material for tests: a CA, a server certificate (SAN 127.0.0.1 and localhost) and a
 * client certificate, all signed by that CA, generated with the `openssl` CLI into a temp dir
 * (removed by `remove()`, or at exit). PEM files only; keys are unencrypted EC P-256.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ownedTempDir, tempDirCleanup } from './proc.js';

export interface TlsFiles {
  dir: string;
  /** The CA's certificate (what clients and servers trust). */
  caFile: string;
  /** Server certificate (CN localhost, SAN IP:127.0.0.1, DNS:localhost) and its key. */
  serverCertFile: string;
  serverKeyFile: string;
  /** Server key then certificate then CA, in one file (a Kafka PEM keystore). */
  serverKeyAndChainFile: string;
  /** Client certificate (CN vigie-client, clientAuth) and its key, for mutual TLS. */
  clientCertFile: string;
  clientKeyFile: string;
  /** Removes the dir; safe to call twice. */
  remove(): void;
}

function openssl(dir: string, args: string[]): void {
  try {
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
  } catch (err) {
    const e = err as { message: string; stderr?: Buffer };
    throw new Error(`openssl ${args.join(' ')} failed: ${e.message}\n${String(e.stderr ?? '')}`);
  }
}

/** A fresh CA with a server and a client certificate, valid for a day. */
export function makeTlsFiles(): TlsFiles {
  const dir = ownedTempDir('vigie-tls-');
  const remove = tempDirCleanup(dir);
  try {
    const p = (name: string) => join(dir, name);
    const key = (file: string) => openssl(dir, ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file]);
    key('ca.key');
    openssl(dir, ['req', '-x509', '-new', '-key', 'ca.key', '-days', '2', '-subj', '/CN=Vigie Test CA', '-out', 'ca.pem',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
    const leaf = (name: string, cn: string, ext: string) => {
      key(`${name}.key`);
      openssl(dir, ['req', '-new', '-key', `${name}.key`, '-subj', `/CN=${cn}`, '-out', `${name}.csr`]);
      writeFileSync(p(`${name}.ext`), ext);
      openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-sha256', '-extfile', `${name}.ext`, '-out', `${name}.pem`]);
    };
    leaf('server', 'localhost', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n');
    leaf('client', 'vigie-client', 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n');
    // Kafka's PEM keystore wants a PKCS#8 key: genpkey writes PKCS#8 already ("BEGIN PRIVATE KEY").
    writeFileSync(p('server-keystore.pem'), [readFileSync(p('server.key'), 'utf8'), readFileSync(p('server.pem'), 'utf8'), readFileSync(p('ca.pem'), 'utf8')].join(''));
    return {
      dir,
      caFile: p('ca.pem'),
      serverCertFile: p('server.pem'),
      serverKeyFile: p('server.key'),
      serverKeyAndChainFile: p('server-keystore.pem'),
      clientCertFile: p('client.pem'),
      clientKeyFile: p('client.key'),
      remove,
    };
  } catch (err) {
    remove();
    throw err;
  }
}
