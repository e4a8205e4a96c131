// The ARM wire shapes of Microsoft.Compute through @azure/arm-compute 25.1.1 (tests/sdk-js/compute-arm.mjs,
// api-compat.md §2.3-2.5): PUT 201/200, PATCH 200, lists by group and subscription, associatedResources,
// a set in use that cannot be deleted, grantAccess/endGetAccess 200, the 404 envelopes, DELETE 200 then 204.
using System.Text.Json;
using Ironclad.Testing;

namespace Ironclad.Sdk.Tests;

public sealed class ComputeArmSdkTests : IAsyncLifetime
{
    private readonly SdkServer _server = new() { ExtraArguments = ["--vault-ports", "25490-25499"] };

    public ValueTask InitializeAsync() => _server.InitializeAsync();

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    [Fact]
    public async Task Disks_and_sets_answer_with_the_statuses_lists_and_errors_of_arm()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var seed = Seeds.FromEnvironmentOrRandom();
        var output = await ComputeSdkSupport.RunAsync(_server, "compute-arm.mjs", seed,
            new Dictionary<string, string?> { ["IRONCLAD_RG"] = "rg-arm", ["IRONCLAD_PREFIX"] = "arm" }, cancellationToken);

        Assert.Equal("[201]", output.GetProperty("put").GetProperty("create").GetRawText());
        Assert.Equal("[200]", output.GetProperty("put").GetProperty("replace").GetRawText());
        Assert.Equal("[200]", output.GetProperty("patch").GetRawText());
        Assert.Equal(400, output.GetProperty("shrink").GetProperty("statusCode").GetInt32());
        Assert.Equal(8, output.GetProperty("associated").GetInt32());
        Assert.Equal("[200]", output.GetProperty("access").GetProperty("grant").GetRawText());
        Assert.Equal("[200]", output.GetProperty("access").GetProperty("end").GetRawText());
        Assert.Equal("[200]", output.GetProperty("delete").GetProperty("existing").GetRawText());
        Assert.Equal("[204]", output.GetProperty("delete").GetProperty("missing").GetRawText());
        Assert.Equal("[200]", output.GetProperty("delete").GetProperty("set").GetRawText());

        var inUse = output.GetProperty("setInUse");
        Assert.Equal(409, inUse.GetProperty("statusCode").GetInt32());
        ComputeSdkSupport.AssertNames("deleting a set in use", inUse.GetProperty("message").GetString()!, "arm-des", "arm-d0");

        AssertNotFound(output, "missingDisk", "ResourceNotFound", "arm-nope");
        AssertNotFound(output, "missingSet", "ResourceNotFound", "arm-nope");
        AssertNotFound(output, "missingGroup", "ResourceGroupNotFound", "rg-arm-nope");
        AssertNotFound(output, "setGone", "ResourceNotFound", "arm-des");
    }

    private static void AssertNotFound(JsonElement output, string name, string code, string names)
    {
        var error = output.GetProperty(name);
        Assert.Equal(404, error.GetProperty("statusCode").GetInt32());
        Assert.Equal(code, error.GetProperty("code").GetString());
        ComputeSdkSupport.AssertNames(name, error.GetProperty("message").GetString()!, names);
    }
}
