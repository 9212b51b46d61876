// Process entry: configuration, logger, listen, graceful shutdown. Nothing else lives here.
import { buildApp } from './app.js'
import { ConfigError, loadConfig, type Config } from './config.js'

function loggerOptions (config: Config): object {
  const base = { level: config.logLevel }
  // JSON lines everywhere; a person at a terminal gets them pretty-printed
  return process.stdout.isTTY ? { ...base, transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l' } } } : base
}

async function main (): Promise<void> {
  let config: Config
  try {
    config = loadConfig()
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`materia: ${err.message}\n`)
      process.exit(2)
    }
    throw err
  }
  const app = await buildApp({ config, logger: loggerOptions(config) })
  // slow clients must not hold sockets forever; keep-alive outlives typical load balancers' 60 s
  app.server.keepAliveTimeout = 65_000
  app.server.headersTimeout = 66_000

  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) return
    stopping = true
    app.log.info({ signal, timeoutMs: config.shutdownTimeout }, 'shutting down: finishing in-flight requests')
    const force = setTimeout(() => {
      app.log.error('shutdown timed out: closing remaining connections')
      app.server.closeAllConnections()
      process.exit(1)
    }, config.shutdownTimeout)
    force.unref()
    app.close().then(() => {
      app.log.info('shutdown complete')
      process.exit(0)
    }, (err: unknown) => {
      app.log.error({ err }, 'shutdown failed')
      process.exit(1)
    })
  }
  process.on('SIGTERM', () => { stop('SIGTERM') })
  process.on('SIGINT', () => { stop('SIGINT') })

  await app.listen({ host: config.host, port: config.port })
}

main().catch((err: unknown) => {
  process.stderr.write(`materia: failed to start: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
  process.exit(1)
})
