import { readFileSync } from 'node:fs';
import { Kafka, logLevel, type KafkaConfig, type SASLOptions } from 'kafkajs';
import { z } from 'zod';
import type { Logger } from 'pino';
import { VigieError } from '../errors.js';

/**
 * Connection options shared by every Kafka component. Secrets never sit in the config file:
 * they are read from an environment variable or a file named here, and never logged.
 */
export const kafkaClientSchema = z.strictObject({
  brokers: z
    .union([z.array(z.string().min(1)).min(1), z.string().min(1)])
    .default(['127.0.0.1:9092'])
    .describe('Bootstrap brokers, as a list or a comma-separated string (e.g. "${KAFKA_BROKERS}").'),
  clientId: z.string().min(1).default('vigie').describe('Client id reported to the brokers.'),
  ssl: z
    .union([
      z.boolean(),
      z.strictObject({
        caFile: z.string().optional().describe('PEM file of the CA that signed the brokers\' certificates.'),
        certFile: z.string().optional().describe('PEM client certificate (mutual TLS).'),
        keyFile: z.string().optional().describe('PEM client key (mutual TLS).'),
        rejectUnauthorized: z.boolean().default(true).describe('Verify the brokers\' certificates.'),
      }),
    ])
    .default(false)
    .describe('TLS: true for the system CAs, or files.'),
  sasl: z
    .strictObject({
      mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']).describe('SASL mechanism.'),
      username: z.string().min(1).describe('User name.'),
      passwordEnv: z.string().optional().describe('Environment variable holding the password.'),
      passwordFile: z.string().optional().describe('File holding the password (trailing newline ignored).'),
    })
    .refine((s) => (s.passwordEnv === undefined) !== (s.passwordFile === undefined), { message: 'give exactly one of passwordEnv and passwordFile' })
    .optional()
    .describe('SASL authentication; the password comes from the environment or a file, never from the config.'),
  connectionTimeout: z.number().int().positive().default(3000).describe('Milliseconds to wait for a connection.'),
  requestTimeout: z.number().int().positive().default(30000).describe('Milliseconds to wait for a request.'),
});
export type KafkaClientConfig = z.infer<typeof kafkaClientSchema>;

function secret(env: string | undefined, file: string | undefined, what: string): string {
  if (env !== undefined) {
    const v = process.env[env];
    if (v === undefined) throw new VigieError('VIGIE_ERR_ENV', `${what}: environment variable ${env} is not set`);
    return v;
  }
  return readFileSync(file as string, 'utf8').replace(/\r?\n$/, '');
}

/** kafkajs log lines go through our logger, at warn and above, without their payloads. */
function logCreator(logger: Logger) {
  return () =>
    ({ level, log }: { level: number; log: { message: string; broker?: string; groupId?: string; error?: string } }) => {
      const fields = { component: 'kafka', broker: log.broker, groupId: log.groupId, error: log.error };
      if (level === logLevel.ERROR) logger.error(fields, log.message);
      else if (level === logLevel.WARN) logger.warn(fields, log.message);
    };
}

/** Build a kafkajs client from validated options. */
export function createKafka(cfg: KafkaClientConfig, logger: Logger): Kafka {
  const brokers = (Array.isArray(cfg.brokers) ? cfg.brokers : cfg.brokers.split(',')).map((b) => b.trim()).filter(Boolean);
  const config: KafkaConfig = {
    clientId: cfg.clientId,
    brokers,
    connectionTimeout: cfg.connectionTimeout,
    requestTimeout: cfg.requestTimeout,
    logLevel: logLevel.WARN,
    logCreator: logCreator(logger),
  };
  if (cfg.ssl === true) config.ssl = true;
  else if (cfg.ssl !== false) {
    config.ssl = {
      rejectUnauthorized: cfg.ssl.rejectUnauthorized,
      ca: cfg.ssl.caFile ? [readFileSync(cfg.ssl.caFile, 'utf8')] : undefined,
      cert: cfg.ssl.certFile ? readFileSync(cfg.ssl.certFile, 'utf8') : undefined,
      key: cfg.ssl.keyFile ? readFileSync(cfg.ssl.keyFile, 'utf8') : undefined,
    };
  }
  if (cfg.sasl) {
    const password = secret(cfg.sasl.passwordEnv, cfg.sasl.passwordFile, 'kafka sasl password');
    config.sasl = { mechanism: cfg.sasl.mechanism, username: cfg.sasl.username, password } as SASLOptions;
  }
  return new Kafka(config);
}
