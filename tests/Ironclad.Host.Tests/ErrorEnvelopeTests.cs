// The control plane's error middleware in process, on a plain-HTTP Kestrel with endpoints that
// misbehave on purpose: an unhandled exception must reach the client as a 500 "InternalServerError"
// envelope that carries nothing of the exception.
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Ironclad.ControlPlane;
using Ironclad.ControlPlane.Errors;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Ironclad.Host.Tests;

public sealed class ErrorEnvelopeTests
{
    private const string SecretDetail = "connection string Password=hunter2";

    [Fact]
    public async Task Unhandled_exception_becomes_a_500_envelope_without_the_exception_message()
    {
        await using var app = await StartAsync(TestContext.Current.CancellationToken);
        using var client = new HttpClient { BaseAddress = BaseAddress(app) };

        using var response = await client.GetAsync(new Uri("/boom", UriKind.Relative), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal(ErrorCodes.InternalServerError, Assert.Single(response.Headers.GetValues(AzureError.ErrorCodeHeader)));
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.DoesNotContain("hunter2", text, StringComparison.Ordinal);
        Assert.DoesNotContain(nameof(InvalidOperationException), text, StringComparison.Ordinal);
        var error = JsonDocument.Parse(text).RootElement.GetProperty("error");
        Assert.Equal(ErrorCodes.InternalServerError, error.GetProperty("code").GetString());
    }

    [Fact]
    public async Task Endpoint_returning_an_azure_error_keeps_its_code_message_and_target()
    {
        await using var app = await StartAsync(TestContext.Current.CancellationToken);
        using var client = new HttpClient { BaseAddress = BaseAddress(app) };

        using var response = await client.GetAsync(new Uri("/keys/missing", UriKind.Relative), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("KeyNotFound", Assert.Single(response.Headers.GetValues(AzureError.ErrorCodeHeader)));
        var error = (await response.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken)).GetProperty("error");
        Assert.Equal("KeyNotFound", error.GetProperty("code").GetString());
        Assert.Equal("A key with (name/id) missing was not found in this key vault.", error.GetProperty("message").GetString());
        Assert.Equal("missing", error.GetProperty("target").GetString());
    }

    [Fact]
    public async Task Healthz_answers_ok_and_null_members_are_omitted_from_envelopes()
    {
        await using var app = await StartAsync(TestContext.Current.CancellationToken);
        using var client = new HttpClient { BaseAddress = BaseAddress(app) };

        var health = await client.GetStringAsync(new Uri("/healthz", UriKind.Relative), TestContext.Current.CancellationToken);
        using var notFound = await client.GetAsync(new Uri("/nowhere", UriKind.Relative), TestContext.Current.CancellationToken);
        var envelope = await notFound.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);

        Assert.Equal("""{"status":"ok"}""", health);
        Assert.DoesNotContain("target", envelope, StringComparison.Ordinal);
    }

    private static async Task<WebApplication> StartAsync(CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        builder.Services.AddLogging(logging => logging.SetMinimumLevel(LogLevel.None));
        builder.Services.AddControlPlane();
        var app = builder.Build();
        app.UseControlPlane();
        app.MapControlPlane();
        app.MapGet("/boom", IResult () => throw new InvalidOperationException(SecretDetail));
        app.MapGet("/keys/{name}", Results<Ok, AzureError> (string name) =>
            new AzureError(StatusCodes.Status404NotFound, "KeyNotFound", $"A key with (name/id) {name} was not found in this key vault.", name));
        await app.StartAsync(cancellationToken);
        return app;
    }

    private static Uri BaseAddress(WebApplication app) =>
        new(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single());
}
