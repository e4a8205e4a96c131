// HSM mode of `ironclad server`: --hsm-module, --hsm-token-label and --hsm-pin-file parse into
// settings (all or nothing), and KeyVaultProtection picks the PKCS#11 protector for them against a
// real SoftHSM2 token made by softhsm2-util (in this process's own token directory, see SoftHsm), or fails the start with a StartupException that says
// what is wrong (module, label, PIN) and never quotes the PIN.
using Ironclad.Host.Commands;
using Ironclad.Host.Data;
using Ironclad.Host.Server;
using Ironclad.Testing;
using Ironclad.Testing.Tools;

namespace Ironclad.Host.Tests;

public sealed class HsmServerOptionsTests
{
    [Fact]
    public void Without_hsm_options_the_settings_have_no_hsm()
    {
        var command = new ServerCommand();
        Assert.Null(command.ToSettings(command.Parse([])).Hsm);
    }

    [Fact]
    public void Hsm_options_are_parsed_into_settings_with_full_paths()
    {
        var command = new ServerCommand();
        var result = command.Parse(["--hsm-module", "/opt/hsm/lib.so", "--hsm-token-label", "vault root", "--hsm-pin-file", "pin.txt"]);
        Assert.Empty(result.Errors);
        var hsm = command.ToSettings(result).Hsm;
        Assert.NotNull(hsm);
        Assert.Equal("/opt/hsm/lib.so", hsm.ModulePath);
        Assert.Equal("vault root", hsm.TokenLabel);
        Assert.Equal(Path.GetFullPath("pin.txt"), hsm.PinFile);

        var withoutPinFile = command.ToSettings(command.Parse(["--hsm-module", "/opt/hsm/lib.so", "--hsm-token-label", "t"])).Hsm;
        Assert.Null(withoutPinFile!.PinFile);
    }

    [Theory]
    [InlineData("--hsm-module needs a label", "--hsm-module", "/opt/hsm/lib.so")]
    [InlineData("a label needs a module", "--hsm-token-label", "t")]
    [InlineData("a PIN file needs a module", "--hsm-pin-file", "pin.txt")]
    public void Incomplete_hsm_options_are_parse_errors_naming_the_missing_option(string why, string option, string value)
    {
        var command = new ServerCommand();
        var error = Assert.Single(command.Parse([option, value]).Errors);
        Assert.Contains(option == "--hsm-module" ? "--hsm-token-label" : "--hsm-module", error.Message, StringComparison.Ordinal);
        Assert.False(string.IsNullOrEmpty(why));
    }

    [Fact]
    public void There_is_no_option_that_takes_the_pin_itself()
    {
        var command = new ServerCommand();
        Assert.DoesNotContain(command.Options, o => o.Name.Contains("pin", StringComparison.OrdinalIgnoreCase) && o.Name != "--hsm-pin-file");
        Assert.NotEmpty(command.Parse(["--hsm-module", "/x.so", "--hsm-token-label", "t", "--hsm-pin", "1234"]).Errors);
    }

    [Fact]
    public async Task The_pkcs11_protector_is_chosen_with_a_pin_file_or_the_environment_and_bad_settings_fail_the_start()
    {
        var module = SoftHsm.RequireModule();
        var token = await CreateTokenAsync();
        using var temporary = new TempDirectory("ironclad-host-hsm");
        using var dataDirectory = DataDirectory.Open(temporary.Combine("data"));
        var pinFile = temporary.Combine("pin");
        await File.WriteAllTextAsync(pinFile, token.Pin + "\n", TestContext.Current.CancellationToken);

        // File mode without HSM options.
        using (var file = KeyVaultProtection.Create(Settings(temporary, null), dataDirectory, _ => null, logger: null))
        {
            Assert.Equal("file", file.Mode);
            Assert.Null(file.Hsm);
        }

        // A PIN file (with a trailing newline), then the environment variable.
        byte[] sealedBlob;
        using (var hsm = KeyVaultProtection.Create(Settings(temporary, new HsmSettings(module, token.Label, pinFile)), dataDirectory, _ => null, logger: null))
        {
            Assert.Equal("pkcs11", hsm.Mode);
            Assert.NotNull(hsm.Hsm);
            sealedBlob = hsm.Seal("secret"u8, "aad"u8);
        }

        using (var hsm = KeyVaultProtection.Create(Settings(temporary, new HsmSettings(module, token.Label, null)), dataDirectory,
            name => name == HsmSettings.PinVariable ? token.Pin : null, logger: null))
        {
            Assert.Equal("secret"u8.ToArray(), hsm.Unseal(sealedBlob, "aad"u8));
        }

        // Nothing of the root key is in the data directory: it lives in the token.
        Assert.False(File.Exists(Path.Combine(dataDirectory.KeyVaultDirectory, "root.key.hsm")));

        var wrongPinFile = temporary.Combine("wrong-pin");
        await File.WriteAllTextAsync(wrongPinFile, "wrong-7361", TestContext.Current.CancellationToken);
        var emptyPinFile = temporary.Combine("empty-pin");
        await File.WriteAllTextAsync(emptyPinFile, "\n", TestContext.Current.CancellationToken);

        (HsmSettings Hsm, string Expected)[] failures =
        [
            (new HsmSettings(module, token.Label, wrongPinFile), $"HSM mode: cannot log in to token '{token.Label}': the PIN is incorrect"),
            (new HsmSettings(module, "no-such-token", pinFile), $"HSM mode: the PKCS#11 module '{module}' has no initialized token labeled 'no-such-token'"),
            (new HsmSettings(temporary.Combine("missing.so"), token.Label, pinFile), $"HSM mode: the PKCS#11 module '{temporary.Combine("missing.so")}' does not exist"),
            (new HsmSettings(module, token.Label, temporary.Combine("no-pin-file")), $"HSM mode: cannot read the PIN file '{temporary.Combine("no-pin-file")}'"),
            (new HsmSettings(module, token.Label, emptyPinFile), $"HSM mode: the PIN file '{emptyPinFile}' is empty"),
            (new HsmSettings(module, token.Label, null), "HSM mode needs the token's user PIN: give --hsm-pin-file PATH or set the IRONCLAD_HSM_PIN environment variable"),
        ];
        foreach (var (hsm, expected) in failures)
        {
            var e = Assert.Throws<StartupException>(() => KeyVaultProtection.Create(Settings(temporary, hsm), dataDirectory, _ => null, logger: null));
            Assert.StartsWith(expected, e.Message, StringComparison.Ordinal);
            Assert.DoesNotContain("7361", e.Message, StringComparison.Ordinal);
            Assert.DoesNotContain(token.Pin, e.Message, StringComparison.Ordinal);
        }
    }

    private static ServerSettings Settings(TempDirectory temporary, HsmSettings? hsm) =>
        new(temporary.Combine("data"), 0, System.Net.IPAddress.Loopback, Ironclad.Host.Logging.LogFormat.Text, Hsm: hsm);

    /// <summary>A fresh token made by softhsm2-util, as an operator would (skips without SoftHSM2 unless IRONCLAD_REQUIRE_TOOLS=1).</summary>
    private static async Task<(string Label, string Pin)> CreateTokenAsync()
    {
        var tool = ExternalTool.Require("softhsm2-util", "Debian package softhsm2");
        var conf = SoftHsm.ConfPath;
        var label = "ironclad-host-" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(5));
        var pin = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(6));
        var soPin = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(6));
        (await tool.RunAsync(["--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", soPin],
            environment: new Dictionary<string, string?> { ["SOFTHSM2_CONF"] = conf },
            cancellationToken: TestContext.Current.CancellationToken)).EnsureSuccess("softhsm2-util --init-token");
        Assert.NotEmpty(Directory.GetDirectories(SoftHsm.TokenDirectory));
        return (label, pin);
    }
}
