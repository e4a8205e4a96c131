// The real `ironclad server` process on a fresh and on a reused data directory: files and modes,
// endpoints.json, HTTPS served with a certificate that only the generated CA validates.
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Ironclad.Testing;
using Ironclad.Testing.Processes;

namespace Ironclad.Host.Tests;

public sealed class ServerStartupTests
{
    private const UnixFileMode OwnerReadWrite = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode OwnerAll = OwnerReadWrite | UnixFileMode.UserExecute;

    [Fact]
    public async Task Fresh_data_directory_starts_and_serves_healthz_over_https_trusted_through_the_generated_ca()
    {
        using var temporary = new TempDirectory("ironclad-host-tests");
        var dataDirectory = temporary.Combine("data");
        await using var server = await IroncladServer.StartAsync(dataDirectory, cancellationToken: TestContext.Current.CancellationToken);

        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(OwnerAll, File.GetUnixFileMode(dataDirectory));
            Assert.Equal(OwnerReadWrite, File.GetUnixFileMode(server.EndpointsPath));
            Assert.Equal(OwnerReadWrite, File.GetUnixFileMode(Path.Combine(dataDirectory, "tls", "ca-key.pem")));
            Assert.Equal(OwnerReadWrite, File.GetUnixFileMode(Path.Combine(dataDirectory, "tls", "server-key.pem")));
        }

        var endpoints = server.Endpoints;
        Assert.Equal(Uri.UriSchemeHttps, endpoints.Url.Scheme);
        Assert.Equal("127.0.0.1", endpoints.Url.Host);
        Assert.NotEqual(0, endpoints.Url.Port);
        Assert.Equal(Path.Combine(dataDirectory, "tls", "ca.pem"), endpoints.CaCertificate);
        Assert.True(Path.IsPathFullyQualified(endpoints.CaCertificate));
        Assert.Equal(JsonValueKind.Object, endpoints.Json.ValueKind);

        X509Certificate2? presented = null;
        using var client = server.CreateHttpClient(certificate => presented = certificate);
        using var response = await client.GetAsync(new Uri("/healthz", UriKind.Relative), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var health = await response.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken);
        Assert.Equal("ok", health.GetProperty("status").GetString());

        Assert.NotNull(presented);
        var alternativeNames = presented.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single();
        Assert.Contains(IPAddress.Loopback, alternativeNames.EnumerateIPAddresses());
        Assert.Contains("localhost", alternativeNames.EnumerateDnsNames());
        var usages = presented.Extensions.OfType<X509EnhancedKeyUsageExtension>().Single().EnhancedKeyUsages;
        Assert.Contains(usages.Cast<System.Security.Cryptography.Oid>(), oid => oid.Value == "1.3.6.1.5.5.7.3.1");
        using var ca = CaTrust.LoadCertificate(endpoints.CaCertificate);
        Assert.Equal(ca.Subject, presented.Issuer);
        Assert.True(ca.Extensions.OfType<X509BasicConstraintsExtension>().Single().CertificateAuthority);

        // The log names certificates by thumbprint and path; key material never appears in it.
        foreach (var keyFile in new[] { "ca-key.pem", "server-key.pem" })
        {
            var keyLines = await File.ReadAllLinesAsync(Path.Combine(dataDirectory, "tls", keyFile), TestContext.Current.CancellationToken);
            var keyBody = keyLines.Where(line => !line.StartsWith("-----", StringComparison.Ordinal));
            foreach (var line in keyBody)
            {
                Assert.DoesNotContain(line, server.Process.StandardOutput, StringComparison.Ordinal);
            }
        }

        Assert.DoesNotContain("PRIVATE KEY", server.Process.StandardOutput, StringComparison.Ordinal);

        // The storage engine runs in the server: its store exists and its recovery is logged.
        Assert.True(File.Exists(Path.Combine(dataDirectory, "volumes", "store.hdr")), "the volume store was not created");
        Assert.Contains("Volume store", server.Process.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Server_certificate_is_valid_for_localhost_too()
    {
        using var temporary = new TempDirectory("ironclad-host-tests");
        await using var server = await IroncladServer.StartAsync(temporary.Combine("data"), cancellationToken: TestContext.Current.CancellationToken);

        using var client = CaTrust.CreateHttpClient(server.Endpoints.CaCertificate);
        var viaLocalhost = new UriBuilder(server.Endpoints.Url) { Host = "localhost", Path = "/healthz" }.Uri;
        using var response = await client.GetAsync(viaLocalhost, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task A_client_that_does_not_trust_the_generated_ca_is_refused()
    {
        using var temporary = new TempDirectory("ironclad-host-tests");
        await using var server = await IroncladServer.StartAsync(temporary.Combine("data"), cancellationToken: TestContext.Current.CancellationToken);

        using var systemTrustOnly = new HttpClient { BaseAddress = server.Endpoints.Url, Timeout = TimeSpan.FromSeconds(30) };
        var failure = await Assert.ThrowsAsync<HttpRequestException>(
            () => systemTrustOnly.GetAsync(new Uri("/healthz", UriKind.Relative), TestContext.Current.CancellationToken));
        Assert.IsType<System.Security.Authentication.AuthenticationException>(failure.InnerException);
    }

    [Fact]
    public async Task Second_start_on_the_same_directory_reuses_the_ca_and_still_serves()
    {
        using var temporary = new TempDirectory("ironclad-host-tests");
        var dataDirectory = temporary.Combine("data");

        string caPath;
        byte[] caBytes;
        string caThumbprint;
        await using (var first = await IroncladServer.StartAsync(dataDirectory, cancellationToken: TestContext.Current.CancellationToken))
        {
            caPath = first.Endpoints.CaCertificate;
            caBytes = await File.ReadAllBytesAsync(caPath, TestContext.Current.CancellationToken);
            using var ca = CaTrust.LoadCertificate(caPath);
            caThumbprint = ca.Thumbprint;
            Assert.Equal(0, await first.StopAsync(cancellationToken: TestContext.Current.CancellationToken));
        }

        await using var second = await IroncladServer.StartAsync(dataDirectory, cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(caPath, second.Endpoints.CaCertificate);
        Assert.Equal(caBytes, await File.ReadAllBytesAsync(caPath, TestContext.Current.CancellationToken));
        using (var ca = CaTrust.LoadCertificate(second.Endpoints.CaCertificate))
        {
            Assert.Equal(caThumbprint, ca.Thumbprint);
        }

        using var client = second.CreateHttpClient();
        using var response = await client.GetAsync(new Uri("/healthz", UriKind.Relative), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("Using local CA", second.Process.StandardOutput, StringComparison.Ordinal);
    }
}
