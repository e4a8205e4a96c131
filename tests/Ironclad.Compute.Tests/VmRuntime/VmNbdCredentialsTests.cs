// The VM's NBD client key is handed out once in a response body; nothing else may carry it. These
// tests pin that the credentials record, when turned into text (a log line, an exception message,
// string interpolation), names the certificate and never the key.
using Ironclad.Compute.VirtualMachines;

namespace Ironclad.Compute.Tests.VmRuntime;

public sealed class VmNbdCredentialsTests
{
    private const string PrivateKey = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg-secret-part\n-----END PRIVATE KEY-----\n";

    [Fact]
    public void Text_of_the_credentials_names_the_certificate_and_not_the_key()
    {
        var vmId = Guid.NewGuid();
        var credentials = new VmNbdCredentials(VmNbdNames.ClientCertificateSubject(vmId), "ca-pem", "cert-pem", PrivateKey, DateTimeOffset.UnixEpoch.AddDays(1));

        foreach (var text in new[] { credentials.ToString(), $"{credentials}", string.Join(",", new[] { credentials }) })
        {
            Assert.Contains($"CN=vm-{vmId}", text, StringComparison.Ordinal);
            Assert.DoesNotContain("secret-part", text, StringComparison.Ordinal);
            Assert.DoesNotContain("PRIVATE KEY", text, StringComparison.Ordinal);
        }
    }
}
