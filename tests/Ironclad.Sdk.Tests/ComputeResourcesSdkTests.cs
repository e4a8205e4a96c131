// The seed's customer-key story through @azure/arm-compute 25.1.1 against a real server
// (tests/sdk-js/compute-resources.mjs): vault with soft delete and purge protection, RSA key, a set with
// a system-assigned identity granted by access policy, another granted by the Key Vault Crypto Service
// Encryption User role, a third with a user-assigned identity; customer-key / platform-key /
// double-encrypted disks, snapshots, an image and a disk from it, each reading back through SAS what
// was uploaded; versionless keyUrl resolved.
using Ironclad.Testing;

namespace Ironclad.Sdk.Tests;

public sealed class ComputeResourcesSdkTests : IAsyncLifetime
{
    private readonly SdkServer _server = new() { ExtraArguments = ["--vault-ports", "25400-25419"] };

    public ValueTask InitializeAsync() => _server.InitializeAsync();

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    [Fact]
    public async Task Customer_key_platform_key_and_double_encrypted_disks_snapshots_and_images_work_through_the_sdk()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var seed = Seeds.FromEnvironmentOrRandom();
        var output = await ComputeSdkSupport.RunAsync(_server, "compute-resources.mjs", seed,
            new Dictionary<string, string?> { ["IRONCLAD_RG"] = "rg-compute", ["IRONCLAD_PREFIX"] = "res" }, cancellationToken);

        var policySet = output.GetProperty("setPolicy");
        Assert.EndsWith("/resourceGroups/rg-compute/providers/Microsoft.Compute/diskEncryptionSets/res-des", policySet.GetProperty("id").GetString(), StringComparison.Ordinal);
        Assert.Matches(@"^https://127\.0\.0\.1:254[01]\d/keys/res-key/[0-9a-f]{32}$", policySet.GetProperty("keyUrl").GetString());
        Assert.True(output.GetProperty("sourceBytes").GetInt32() > 64 * 1024, "the uploaded data was read back");

        // A versionless keyUrl is accepted and resolved to the current version.
        var versionless = output.GetProperty("versionless");
        Assert.Matches(@"/keys/res-key$", versionless.GetProperty("requested").GetString());
        Assert.Matches(@"/keys/res-key/[0-9a-f]{32}$", versionless.GetProperty("activeKey").GetString());
        Assert.Equal("Succeeded", versionless.GetProperty("provisioningState").GetString());

        // RBAC: before the role, a disk on the set is refused with an error naming the key and what is missing.
        var beforeRole = output.GetProperty("rbacBeforeRole");
        var message = beforeRole.GetProperty("message").GetString()!;
        ComputeSdkSupport.AssertNames("disk before the role", message, "res-rbac-key");
        ComputeSdkSupport.AssertMentions("disk before the role", message, "wrapkey|unwrapkey|Crypto Service Encryption User|permission|role");
        Assert.InRange(beforeRole.GetProperty("statusCode").GetInt32(), 400, 499);

        var userAssigned = output.GetProperty("userAssigned");
        Assert.EndsWith("/diskEncryptionSets/res-des-uami", userAssigned.GetProperty("setId").GetString(), StringComparison.Ordinal);
    }
}
