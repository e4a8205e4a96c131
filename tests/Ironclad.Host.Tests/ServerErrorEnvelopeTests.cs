// Errors from the real server carry Azure's envelope and x-ms-error-code, whatever produced them.
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Ironclad.Testing;
using Ironclad.Testing.Processes;

namespace Ironclad.Host.Tests;

public sealed class ServerErrorEnvelopeTests
{
    [Fact]
    public async Task Unknown_route_answers_404_with_the_azure_error_envelope()
    {
        using var temporary = new TempDirectory("ironclad-host-tests");
        await using var server = await IroncladServer.StartAsync(temporary.Combine("data"), cancellationToken: TestContext.Current.CancellationToken);
        using var client = server.CreateHttpClient();

        using var response = await client.GetAsync(new Uri("/no/such/route?sig=secret", UriKind.Relative), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("NotFound", Assert.Single(response.Headers.GetValues("x-ms-error-code")));
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken);
        var error = body.GetProperty("error");
        Assert.Equal("NotFound", error.GetProperty("code").GetString());
        var message = error.GetProperty("message").GetString();
        Assert.False(string.IsNullOrWhiteSpace(message));
        Assert.DoesNotContain("secret", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Wrong_method_on_a_known_route_answers_405_with_the_azure_error_envelope()
    {
        using var temporary = new TempDirectory("ironclad-host-tests");
        await using var server = await IroncladServer.StartAsync(temporary.Combine("data"), cancellationToken: TestContext.Current.CancellationToken);
        using var client = server.CreateHttpClient();

        using var content = new StringContent("{}");
        using var response = await client.PostAsync(new Uri("/healthz", UriKind.Relative), content, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        Assert.Equal("MethodNotAllowed", Assert.Single(response.Headers.GetValues("x-ms-error-code")));
        var body = await response.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken);
        Assert.Equal("MethodNotAllowed", body.GetProperty("error").GetProperty("code").GetString());
    }
}
