# A serverless agent that checkpoints with s3saver: the bucket from the module, a Lambda
# execution role that can use exactly the saver's prefix (plus its own logs), and the function,
# told where to checkpoint through S3SAVER_URL.

data "aws_iam_policy_document" "assume_lambda" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "agent" {
  # The name is set explicitly so the module's role attachment is known at plan time.
  name               = "${var.name}-exec"
  assume_role_policy = data.aws_iam_policy_document.assume_lambda.json
}

data "aws_partition" "current" {}

# CloudWatch Logs for the function, and X-Ray for its active tracing.
resource "aws_iam_role_policy_attachment" "logs" {
  role       = aws_iam_role.agent.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
}

resource "aws_iam_role_policy_attachment" "xray" {
  role       = aws_iam_role.agent.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/AWSXRayDaemonWriteAccess"
}

module "checkpoints" {
  source = "../.."

  bucket_name                = var.bucket_name
  prefix                     = "agents/${var.name}/"
  checkpoint_expiration_days = var.checkpoint_expiration_days
  role_name                  = aws_iam_role.agent.name
}

resource "aws_lambda_function" "agent" {
  #checkov:skip=CKV_AWS_116:The agent is invoked synchronously (API/function URL); a dead-letter queue only applies to async invocations, add one if you invoke it asynchronously.
  #checkov:skip=CKV_AWS_117:No VPC: the agent reaches S3 and its model API over the internet; putting it in a VPC needs NAT or endpoints that this example does not create.
  #checkov:skip=CKV_AWS_173:The environment holds no secrets (only the checkpoint URL), so the default AWS-managed encryption is enough.
  #checkov:skip=CKV_AWS_272:Code signing needs a signing profile and pipeline outside the scope of this example.
  function_name = var.name
  role          = aws_iam_role.agent.arn
  runtime       = "python3.12"
  handler       = var.handler
  architectures = ["arm64"]
  timeout       = 300
  memory_size   = 512

  filename         = var.package_path
  source_code_hash = filebase64sha256(var.package_path)

  reserved_concurrent_executions = var.reserved_concurrency

  tracing_config {
    mode = "Active"
  }

  environment {
    variables = {
      S3SAVER_URL = module.checkpoints.s3saver_url
    }
  }

  # The role must hold the saver policy before the first invocation.
  depends_on = [module.checkpoints, aws_iam_role_policy_attachment.logs, aws_iam_role_policy_attachment.xray]
}
