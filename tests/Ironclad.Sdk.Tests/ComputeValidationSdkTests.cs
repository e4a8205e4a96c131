// Every check of a disk encryption set, seen as @azure/arm-compute 25.1.1 sees it
// (tests/sdk-js/compute-validation.mjs): each refusal is a 4xx ARM error whose message names what is
// missing — purge protection, the key's wrapKey/unwrapKey operations, the key, the disabled state, the
// region, the identity's permission — and nothing refused is created. Ironclad's vault only makes RSA
// 2048/3072/4096 keys, so a wrong key type or size cannot be produced through the SDK at all.
using Ironclad.Testing;

namespace Ironclad.Sdk.Tests;

public sealed class ComputeValidationSdkTests : IAsyncLifetime
{
    private readonly SdkServer _server = new() { ExtraArguments = ["--vault-ports", "25420-25439"] };

    public ValueTask InitializeAsync() => _server.InitializeAsync();

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    [Fact]
    public async Task Each_rule_of_a_set_is_refused_with_an_error_naming_what_is_missing()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var seed = Seeds.FromEnvironmentOrRandom();
        var output = await ComputeSdkSupport.RunAsync(_server, "compute-validation.mjs", seed,
            new Dictionary<string, string?> { ["IRONCLAD_RG"] = "rg-validation", ["IRONCLAD_PREFIX"] = "val" }, cancellationToken);
        var errors = output.GetProperty("errors");

        var noPurge = ComputeSdkSupport.Error(errors, "noPurgeProtection");
        Assert.Equal(400, noPurge.Status);
        ComputeSdkSupport.AssertNames("vault without purge protection", noPurge.Message, "purge protection", "val-kv-nopp");

        var keyOps = ComputeSdkSupport.Error(errors, "keyOps");
        Assert.Equal(400, keyOps.Status);
        ComputeSdkSupport.AssertNames("key without wrapKey", keyOps.Message, "val-sign-only", "wrapKey");

        foreach (var name in new[] { "missingKey", "missingKeyVersionless" })
        {
            var missing = ComputeSdkSupport.Error(errors, name);
            Assert.InRange(missing.Status, 400, 404);
            ComputeSdkSupport.AssertNames(name, missing.Message, "val-nokey");
        }

        var mismatch = ComputeSdkSupport.Error(errors, "keyNotInVault");
        Assert.Equal(400, mismatch.Status);
        ComputeSdkSupport.AssertNames("keyUrl outside sourceVault", mismatch.Message, "val-kv");

        var disabled = ComputeSdkSupport.Error(errors, "disabledKey");
        Assert.Equal(400, disabled.Status);
        ComputeSdkSupport.AssertNames("disabled key", disabled.Message, "val-disabled", "disabled");

        var region = ComputeSdkSupport.Error(errors, "otherRegion");
        Assert.Equal(400, region.Status);
        ComputeSdkSupport.AssertNames("vault in another region", region.Message, "westus", "eastus");

        var diskRegion = ComputeSdkSupport.Error(errors, "diskOtherRegion");
        Assert.Equal(400, diskRegion.Status);
        ComputeSdkSupport.AssertNames("disk in another region than its set", diskRegion.Message, "westus", "eastus");

        // The identity without access: the error names the key, the identity and the permission missing.
        var principal = output.GetProperty("principals").GetProperty("noAccess").GetString()!;
        var noAccess = ComputeSdkSupport.Error(errors, "noAccess");
        Assert.InRange(noAccess.Status, 400, 403);
        ComputeSdkSupport.AssertNames("identity without access", noAccess.Message, "val-key", principal);
        ComputeSdkSupport.AssertMentions("identity without access", noAccess.Message, @"\bget\b|wrapkey|unwrapkey");
        var getOnly = ComputeSdkSupport.Error(errors, "getOnly");
        Assert.InRange(getOnly.Status, 400, 403);
        ComputeSdkSupport.AssertNames("identity with get only", getOnly.Message, "val-key", principal, "wrapKey");

        var withoutSet = ComputeSdkSupport.Error(errors, "diskWithoutSet");
        Assert.Equal(400, withoutSet.Status);
        ComputeSdkSupport.AssertNames("customer-key disk without a set", withoutSet.Message, "diskEncryptionSetId");
        var unknownSet = ComputeSdkSupport.Error(errors, "diskUnknownSet");
        Assert.InRange(unknownSet.Status, 400, 404);
        ComputeSdkSupport.AssertNames("customer-key disk with an unknown set", unknownSet.Message, "val-nodes");
    }
}
