/**
 * Facts the rules match against. The privilege-escalation catalog is the 66-path snapshot of
 * DataDog's pathfinding.cloud (as vendored by Cloudsplaining, 2026-08), plus Rhino Security Labs'
 * SetExistingDefaultPolicyVersion, which has no pathfinding entry. Action names only; no code.
 */

export type PathCategory = 'self-escalation' | 'principal-access' | 'new-passrole' | 'existing-passrole'

export interface EscalationPath {
  /** pathfinding.cloud id (https://pathfinding.cloud/paths/<id>) or `rhino-<name>`. */
  readonly id: string
  readonly category: PathCategory
  /** Every one of these must be allowed. Lower case. */
  readonly actions: readonly string[]
}

const P = (id: string, category: PathCategory, ...actions: string[]): EscalationPath => ({ id, category, actions: actions.map((a) => a.toLowerCase()) })

export const ESCALATION_PATHS: readonly EscalationPath[] = [
  P('apprunner-001', 'new-passrole', 'iam:PassRole', 'apprunner:CreateService'),
  P('apprunner-002', 'existing-passrole', 'apprunner:UpdateService'),
  P(
    'bedrock-001',
    'new-passrole',
    'iam:PassRole',
    'bedrock-agentcore:CreateCodeInterpreter',
    'bedrock-agentcore:StartCodeInterpreterSession',
    'bedrock-agentcore:InvokeCodeInterpreter',
  ),
  P('bedrock-002', 'existing-passrole', 'bedrock-agentcore:StartCodeInterpreterSession', 'bedrock-agentcore:InvokeCodeInterpreter'),
  P('cloudformation-001', 'new-passrole', 'iam:PassRole', 'cloudformation:CreateStack'),
  P('cloudformation-002', 'existing-passrole', 'cloudformation:UpdateStack'),
  P('cloudformation-003', 'new-passrole', 'iam:PassRole', 'cloudformation:CreateStackSet', 'cloudformation:CreateStackInstances'),
  P('cloudformation-004', 'new-passrole', 'iam:PassRole', 'cloudformation:UpdateStackSet'),
  P('cloudformation-005', 'new-passrole', 'cloudformation:CreateChangeSet', 'cloudformation:ExecuteChangeSet'),
  P('codebuild-001', 'new-passrole', 'iam:PassRole', 'codebuild:CreateProject', 'codebuild:StartBuild'),
  P('codebuild-002', 'existing-passrole', 'codebuild:StartBuild'),
  P('codebuild-003', 'existing-passrole', 'codebuild:StartBuildBatch'),
  P('codebuild-004', 'new-passrole', 'iam:PassRole', 'codebuild:CreateProject', 'codebuild:StartBuildBatch'),
  P('datapipeline-001', 'new-passrole', 'iam:PassRole', 'datapipeline:CreatePipeline', 'datapipeline:PutPipelineDefinition', 'datapipeline:ActivatePipeline'),
  P('ec2-001', 'new-passrole', 'iam:PassRole', 'ec2:RunInstances'),
  P('ec2-002', 'existing-passrole', 'ec2:ModifyInstanceAttribute', 'ec2:StopInstances', 'ec2:StartInstances'),
  P('ec2-003', 'new-passrole', 'iam:PassRole', 'ec2:RequestSpotInstances'),
  P('ec2-004', 'existing-passrole', 'ec2:CreateLaunchTemplateVersion', 'ec2:ModifyLaunchTemplate'),
  P('ec2instanceconnect-003', 'existing-passrole', 'ec2-instance-connect:SendSSHPublicKey', 'ec2:DescribeInstances'),
  P('ecs-001', 'new-passrole', 'iam:PassRole', 'ecs:CreateCluster', 'ecs:RegisterTaskDefinition', 'ecs:CreateService'),
  P('ecs-002', 'new-passrole', 'iam:PassRole', 'ecs:CreateCluster', 'ecs:RegisterTaskDefinition', 'ecs:RunTask'),
  P('ecs-003', 'new-passrole', 'iam:PassRole', 'ecs:RegisterTaskDefinition', 'ecs:CreateService'),
  P('ecs-004', 'new-passrole', 'iam:PassRole', 'ecs:RegisterTaskDefinition', 'ecs:RunTask'),
  P('ecs-005', 'new-passrole', 'iam:PassRole', 'ecs:RegisterTaskDefinition', 'ecs:StartTask'),
  P('ecs-006', 'existing-passrole', 'ecs:ExecuteCommand', 'ecs:DescribeTasks'),
  P('glue-001', 'new-passrole', 'iam:PassRole', 'glue:CreateDevEndpoint'),
  P('glue-002', 'existing-passrole', 'glue:UpdateDevEndpoint'),
  P('glue-003', 'new-passrole', 'iam:PassRole', 'glue:CreateJob', 'glue:StartJobRun'),
  P('glue-004', 'new-passrole', 'iam:PassRole', 'glue:CreateJob', 'glue:CreateTrigger'),
  P('glue-005', 'new-passrole', 'iam:PassRole', 'glue:UpdateJob', 'glue:StartJobRun'),
  P('glue-006', 'new-passrole', 'iam:PassRole', 'glue:UpdateJob', 'glue:CreateTrigger'),
  P('iam-001', 'self-escalation', 'iam:CreatePolicyVersion'),
  P('iam-002', 'principal-access', 'iam:CreateAccessKey'),
  P('iam-003', 'principal-access', 'iam:CreateAccessKey', 'iam:DeleteAccessKey'),
  P('iam-004', 'principal-access', 'iam:CreateLoginProfile'),
  P('iam-005', 'self-escalation', 'iam:PutRolePolicy'),
  P('iam-006', 'principal-access', 'iam:UpdateLoginProfile'),
  P('iam-007', 'self-escalation', 'iam:PutUserPolicy'),
  P('iam-008', 'self-escalation', 'iam:AttachUserPolicy'),
  P('iam-009', 'self-escalation', 'iam:AttachRolePolicy'),
  P('iam-010', 'self-escalation', 'iam:AttachGroupPolicy'),
  P('iam-011', 'self-escalation', 'iam:PutGroupPolicy'),
  P('iam-012', 'principal-access', 'iam:UpdateAssumeRolePolicy'),
  P('iam-013', 'self-escalation', 'iam:AddUserToGroup'),
  P('iam-014', 'principal-access', 'iam:AttachRolePolicy', 'sts:AssumeRole'),
  P('iam-015', 'principal-access', 'iam:AttachUserPolicy', 'iam:CreateAccessKey'),
  P('iam-016', 'principal-access', 'iam:CreatePolicyVersion', 'sts:AssumeRole'),
  P('iam-017', 'principal-access', 'iam:PutRolePolicy', 'sts:AssumeRole'),
  P('iam-018', 'principal-access', 'iam:PutUserPolicy', 'iam:CreateAccessKey'),
  P('iam-019', 'principal-access', 'iam:AttachRolePolicy', 'iam:UpdateAssumeRolePolicy'),
  P('iam-020', 'principal-access', 'iam:CreatePolicyVersion', 'iam:UpdateAssumeRolePolicy'),
  P('iam-021', 'principal-access', 'iam:PutRolePolicy', 'iam:UpdateAssumeRolePolicy'),
  P('lambda-001', 'new-passrole', 'iam:PassRole', 'lambda:CreateFunction', 'lambda:InvokeFunction'),
  P('lambda-002', 'new-passrole', 'iam:PassRole', 'lambda:CreateFunction', 'lambda:CreateEventSourceMapping'),
  P('lambda-003', 'existing-passrole', 'lambda:UpdateFunctionCode'),
  P('lambda-004', 'existing-passrole', 'lambda:UpdateFunctionCode', 'lambda:InvokeFunction'),
  P('lambda-005', 'existing-passrole', 'lambda:UpdateFunctionCode', 'lambda:AddPermission'),
  P('lambda-006', 'new-passrole', 'iam:PassRole', 'lambda:CreateFunction', 'lambda:AddPermission'),
  P('sagemaker-001', 'new-passrole', 'iam:PassRole', 'sagemaker:CreateNotebookInstance'),
  P('sagemaker-002', 'new-passrole', 'iam:PassRole', 'sagemaker:CreateTrainingJob'),
  P('sagemaker-003', 'new-passrole', 'iam:PassRole', 'sagemaker:CreateProcessingJob'),
  P('sagemaker-004', 'existing-passrole', 'sagemaker:CreatePresignedNotebookInstanceUrl'),
  P(
    'sagemaker-005',
    'existing-passrole',
    'sagemaker:CreateNotebookInstanceLifecycleConfig',
    'sagemaker:StopNotebookInstance',
    'sagemaker:UpdateNotebookInstance',
    'sagemaker:StartNotebookInstance',
  ),
  P('ssm-001', 'existing-passrole', 'ssm:StartSession'),
  P('ssm-002', 'existing-passrole', 'ssm:SendCommand'),
  P('sts-001', 'principal-access', 'sts:AssumeRole'),
  // Rhino's classic method with no pathfinding.cloud entry in the snapshot.
  P('rhino-set-default-policy-version', 'self-escalation', 'iam:SetDefaultPolicyVersion'),
]

/** The 66 pathfinding.cloud paths of the reference catalog (the rest are extras). */
export const PATHFINDING_PATH_COUNT = 66

/**
 * Actions whose response contains credentials (Cloudsplaining's ACTIONS_THAT_RETURN_CREDENTIALS,
 * its two `gamelist:` typos corrected to `gamelift:`). Lower case.
 */
export const CREDENTIAL_ACTIONS: readonly string[] = [
  'airflow:createclitoken',
  'airflow:createweblogintoken',
  'appsync:createapikey',
  'chime:createapikey',
  'cloud9:createenvironmenttoken',
  'codeartifact:getauthorizationtoken',
  'codepipeline:pollforjobs',
  'cognito-identity:getopenidtoken',
  'cognito-identity:getopenidtokenfordeveloperidentity',
  'cognito-identity:getcredentialsforidentity',
  'cognito-idp:getsigningcertificate',
  'connect:getfederationtoken',
  'connect:getfederationtokens',
  'ec2:getpassworddata',
  'ecr:getauthorizationtoken',
  'ecr-public:getauthorizationtoken',
  'emr-containers:getmanagedendpointsessioncredentials',
  'finspace-api:getprogrammaticaccesscredentials',
  'gamelift:requestuploadcredentials',
  'gamelift:getinstanceaccess',
  'gamelift:getcomputeaccess',
  'gamelift:getcomputeauthtoken',
  'grafana:createworkspaceapikey',
  'iam:createaccesskey',
  'iam:createloginprofile',
  'iam:createservicespecificcredential',
  'iam:resetservicespecificcredential',
  'iam:updateaccesskey',
  'license-manager:getaccesstoken',
  'lightsail:getinstanceaccessdetails',
  'lightsail:downloaddefaultkeypair',
  'lightsail:createbucketaccesskey',
  'lightsail:getrelationaldatabasemasteruserpassword',
  'mediapackage:rotatechannelcredentials',
  'mediapackage:rotateingestendpointcredentials',
  'rds-db:connect',
  'redshift:getclustercredentials',
  'redshift:getclustercredentialswithiam',
  'redshift-serverless:getcredentials',
  'sso:getrolecredentials',
  'sts:assumerole',
  'sts:assumerolewithsaml',
  'sts:assumerolewithwebidentity',
  'sts:getfederationtoken',
  'sts:getsessiontoken',
]

/** Read actions that leak data when allowed on every resource (Cloudsplaining's defaults). Lower case. */
export const DATA_EXFILTRATION_ACTIONS: readonly string[] = [
  's3:getobject',
  'ssm:getparameter',
  'ssm:getparameters',
  'ssm:getparametersbypath',
  'secretsmanager:getsecretvalue',
]

/** Actions through which an instance role can run commands on other instances (PMapper "unsafe SSM"). */
export const SSM_PIVOT_ACTIONS: readonly string[] = ['ssm:sendcommand', 'ssm:startsession']

/** Service principals of compute that runs code as the role (a compromise of that code acts as the role). */
export const COMPUTE_SERVICES: readonly string[] = [
  'lambda.amazonaws.com',
  'ec2.amazonaws.com',
  'sagemaker.amazonaws.com',
  'ecs-tasks.amazonaws.com',
  'eks.amazonaws.com',
  'codebuild.amazonaws.com',
  'glue.amazonaws.com',
  'batch.amazonaws.com',
  'elasticmapreduce.amazonaws.com',
]

/**
 * AWS managed policies that AWS prescribes as the baseline for a service's role. On a role of that
 * service their findings are reported at `low` (they cannot be edited; AWS documents them as the
 * minimum), with a note. Keyed by policy name; audited on their own (--policy-file) they keep their normal severity.
 */
export const AWS_BASELINE_POLICIES: Readonly<Record<string, string>> = {
  AmazonSSMManagedInstanceCore: 'ec2.amazonaws.com',
  AWSLambdaBasicExecutionRole: 'lambda.amazonaws.com',
  AWSLambdaVPCAccessExecutionRole: 'lambda.amazonaws.com',
  CloudWatchAgentServerPolicy: 'ec2.amazonaws.com',
}

/** Condition keys that tie a service principal to our account or resource (confused-deputy protection). */
export const SOURCE_CONDITION_KEYS: readonly string[] = ['aws:SourceAccount', 'aws:SourceArn', 'aws:SourceOrgID', 'aws:SourceOrgPaths']

/**
 * Service principals that never carry aws:SourceAccount/aws:SourceArn when they assume a role:
 * EC2 delivers instance-profile credentials without them, and only principals with iam:PassRole in
 * this account can attach the role to an instance (roles cannot be passed across accounts).
 */
export const NO_SOURCE_CONTEXT_SERVICES: readonly string[] = ['ec2.amazonaws.com']
