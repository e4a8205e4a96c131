// A restart loses nothing of Resource Manager: resource groups (with their first casing and tags),
// role assignments (and so the access they grant) and the activity log are read back from the
// metadata database by a fresh server process on the same data directory.
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace Ironclad.Sdk.Tests;

public sealed class ArmRestartTests : IAsyncLifetime
{
    private readonly SdkServer _server = new();

    public ValueTask InitializeAsync() => _server.InitializeAsync();

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    [Fact]
    public async Task Groups_assignments_and_the_activity_log_survive_a_restart()
    {
        var ct = TestContext.Current.CancellationToken;
        var sub = _server.SubscriptionId;
        var reader = ArmTestPrincipals.Create(_server);
        var assignment = Guid.NewGuid();
        var admin = await _server.GetTokenAsync(cancellationToken: ct);
        using (var put = await SendAsync(HttpMethod.Put, $"/subscriptions/{sub}/resourcegroups/Keep-Me?api-version=2025-04-01", admin, ct,
            new { location = "eastus", tags = new { owner = "restart" } }))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        using (var put = await SendAsync(HttpMethod.Put,
            $"/subscriptions/{sub}/resourceGroups/keep-me/providers/Microsoft.Authorization/roleAssignments/{assignment}?api-version=2022-04-01", admin, ct,
            new { properties = new { roleDefinitionId = $"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7", principalId = reader.ObjectId } }))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        await _server.RestartAsync(ct);

        admin = await _server.GetTokenAsync(cancellationToken: ct);
        var readerToken = await ArmTestPrincipals.TokenAsync(_server, reader, cancellationToken: ct);
        using (var get = await SendAsync(HttpMethod.Get, $"/subscriptions/{sub}/resourcegroups/KEEP-ME?api-version=2025-04-01", readerToken, ct))
        {
            Assert.Equal(HttpStatusCode.OK, get.StatusCode);
            var group = await get.Content.ReadFromJsonAsync<JsonElement>(ct);
            Assert.Equal("Keep-Me", group.GetProperty("name").GetString());
            Assert.Equal("restart", group.GetProperty("tags").GetProperty("owner").GetString());
        }

        using (var get = await SendAsync(HttpMethod.Get,
            $"/subscriptions/{sub}/resourceGroups/Keep-Me/providers/Microsoft.Authorization/roleAssignments/{assignment}?api-version=2022-04-01", admin, ct))
        {
            Assert.Equal(HttpStatusCode.OK, get.StatusCode);
            Assert.Equal(reader.ObjectId.ToString(),
                (await get.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("properties").GetProperty("principalId").GetString());
        }

        var filter = Uri.EscapeDataString("resourceGroupName eq 'keep-me'");
        using var log = await SendAsync(HttpMethod.Get,
            $"/subscriptions/{sub}/providers/Microsoft.Insights/eventtypes/management/values?api-version=2015-04-01&$filter={filter}", admin, ct);
        var operations = (await log.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("value").EnumerateArray()
            .Select(e => e.GetProperty("operationName").GetProperty("value").GetString()).ToList();
        Assert.Equal(["Microsoft.Authorization/roleAssignments/write", "Microsoft.Resources/subscriptions/resourceGroups/write"], operations);
    }

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string token, CancellationToken ct, object? body = null)
    {
        using var http = _server.CreateHttpClient();
        using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        return await http.SendAsync(request, ct);
    }
}
