// The moto launcher lives in src/dev so `npm run demo` can use it too; tests import it from here.
export { freePort, motoClientConfig, motoEnv, startMoto, type MotoServer } from '../../tools/dev/moto-server.js'
