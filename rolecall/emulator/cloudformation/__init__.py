"""CloudFormation on the embedded target: `aws cloudformation deploy` of real `cdk synth` output.

moto's CloudFormation engine does the work (templates, parameters, conditions,
Ref/GetAtt/Join/Sub/Select/Split/If, outputs, exports, change sets, dependency
order): this package only teaches it what it lacks for rolecall's stacks.

- `cognito_idp`       AWS::Cognito::UserPool, UserPoolClient, UserPoolGroup and
                      UserPoolUserToGroupAttachment, created in moto's cognito-idp backend
                      (so ID tokens carry role claims, as the emulator's patch makes them).
- `cognito_identity`  AWS::Cognito::IdentityPool, IdentityPoolRoleAttachment and
                      IdentityPoolPrincipalTag, created through rolecall's own cognito-identity
                      API (the same validation as CreateIdentityPool / SetIdentityPoolRoles /
                      SetPrincipalTagAttributeMap, SPEC P1-P3, A1).
- `dynamodb`          AWS::DynamoDB::Table's ResourcePolicy (SPEC R1), which moto's model
                      ignores, and AWS::DynamoDB::GlobalTable (the CDK's TableV2), which
                      moto lacks: a table per replica region, each with its own policy.
- `engine`            the changes to moto's engine: types the target does not serve become
                      placeholders with one warning per type, a failed resource rolls the
                      stack back (CREATE_FAILED event with AWS's error text, ROLLBACK_COMPLETE)
                      instead of failing the API call, and the CDK bootstrap version parameter
                      exists (the target stands for a bootstrapped account).
- `rules`             the template's Rules section (the CDK's CheckBootstrapVersion), which
                      moto ignores, checked before a stack or change set is created.

moto 5.2.5 already models AWS::IAM::Role (its PermissionsBoundary included, checked to be
an existing managed policy by rolecall/emulator/iam/boundaries.py), Policy and
ManagedPolicy, AWS::DynamoDB::Table (with GlobalSecondaryIndexes and
LocalSecondaryIndexes) and AWS::SSM::Parameter; those are used as they are.

Like the rest of rolecall.emulator, this package never imports the suite.
"""

from __future__ import annotations


def install() -> None:
    """Teach moto's CloudFormation engine rolecall's stacks (once per process).

    Imported late on purpose: moto's engine imports every moto service (about 2 s),
    so the server calls this on the first CloudFormation request, not at start.
    """
    from rolecall.emulator.cloudformation import engine

    engine.install()
