// The moto launcher lives in tools/dev so `npm run demo` can use it too; tests import it from here.
export { motoClientConfig, motoEnv, startMoto, type MotoServer } from '../../tools/dev/moto-server.js'
