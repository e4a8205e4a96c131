// Signing-key rollover: new tokens use the new key, tokens signed by the retired key keep
// validating until they expire (lifetime + skew), and the ring survives a restart from the
// sealed keys in the database.
namespace Ironclad.Identity.Tests;

public sealed class SigningKeyRolloverTests
{
    [Fact]
    public async Task After_rollover_old_tokens_still_validate_and_new_tokens_use_the_new_key()
    {
        using var fixture = new IdentityFixture(tokenLifetime: TimeSpan.FromMinutes(10), clockSkew: TimeSpan.FromMinutes(1));
        var (_, principal, _) = fixture.CreateApplication();
        var cancellationToken = TestContext.Current.CancellationToken;
        var before = fixture.Provider.IssueToken(principal, "https://management.azure.com").AccessToken;
        var oldKeyId = TokenIssuingTests.Header(before).GetProperty("kid").GetString();

        fixture.Time.Advance(TimeSpan.FromMinutes(5));
        var newKeyId = fixture.Provider.SigningKeys.Rotate();
        var after = fixture.Provider.IssueToken(principal, "https://management.azure.com").AccessToken;

        Assert.NotEqual(oldKeyId, newKeyId);
        Assert.Equal(newKeyId, TokenIssuingTests.Header(after).GetProperty("kid").GetString());
        Assert.True((await fixture.Provider.ValidateTokenAsync(before, cancellationToken)).IsValid, "a token of the retired key");
        Assert.True((await fixture.Provider.ValidateTokenAsync(after, cancellationToken)).IsValid);
        Assert.Equal(2, fixture.Provider.SigningKeys.ValidationKeys.Count);

        // A restart reloads both keys from their sealed form.
        var restarted = fixture.Reopen();
        Assert.True((await restarted.ValidateTokenAsync(before, cancellationToken)).IsValid, "after a restart");
        Assert.True((await restarted.ValidateTokenAsync(after, cancellationToken)).IsValid, "after a restart");

        // Once every token the retired key signed has expired, the key stops verifying and leaves the JWKS.
        fixture.Time.Advance(TimeSpan.FromMinutes(11) + TimeSpan.FromSeconds(1));
        Assert.Equal([newKeyId], restarted.SigningKeys.ValidationKeys.Select(k => k.KeyId));
        Assert.False((await restarted.ValidateTokenAsync(before, cancellationToken)).IsValid);
        var fresh = restarted.IssueToken(principal, "https://management.azure.com").AccessToken;
        Assert.Equal(newKeyId, TokenIssuingTests.Header(fresh).GetProperty("kid").GetString());
        Assert.True((await restarted.ValidateTokenAsync(fresh, cancellationToken)).IsValid);
    }

    [Fact]
    public void Signing_keys_and_secrets_are_not_in_the_database_in_plaintext()
    {
        using var fixture = new IdentityFixture();
        var (_, _, secret) = fixture.CreateApplication();
        var privateKey = fixture.Provider.SigningKeys.Current.Rsa.ExportPkcs8PrivateKey();
        var files = Directory.GetFiles(Path.GetDirectoryName(fixture.DatabasePath)!, "metadata.db*");
        Assert.NotEmpty(files);
        foreach (var file in files)
        {
            var bytes = ReadShared(file);
            Assert.True(bytes.AsSpan().IndexOf(System.Text.Encoding.UTF8.GetBytes(secret)) < 0, $"the client secret is in {file}");
            Assert.True(bytes.AsSpan().IndexOf(privateKey.AsSpan(privateKey.Length - 64)) < 0, $"the signing key is in {file}");
        }
    }

    [Fact]
    public void A_different_root_key_cannot_open_the_signing_keys()
    {
        using var fixture = new IdentityFixture();
        File.WriteAllBytes(fixture.RootKeyPath, new byte[32]);
        Assert.ThrowsAny<System.Security.Cryptography.CryptographicException>(() => fixture.Reopen());
    }

    private static byte[] ReadShared(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
