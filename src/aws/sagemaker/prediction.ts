/**
 * The two wire shapes of a prediction, in one place for the CLI's invoke path, the lambda-setup
 * smoke test and the Lambda runtime (which imports them type-only, so its bundle stays alone).
 */

/** One class of the model's answer, as the predictor (deployment.py over inference.py) writes it. */
export interface Prediction {
  readonly label: string
  readonly probability: number
  readonly index?: number
}

/** One class as the Lambda answers its callers (`breed` is the endpoint's `label`). */
export interface BreedPrediction {
  readonly breed: string
  readonly probability: number
}
