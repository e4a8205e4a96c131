// SoftHSM2 for tests: where its PKCS#11 module is, and one private softhsm2.conf + token directory per
// test process. SoftHSM reads SOFTHSM2_CONF with the C getenv when the module loads, and .NET's
// Environment.SetEnvironmentVariable does not reach the C environment on Unix, so the variable is set
// with libc setenv too (and in .NET's copy, which child processes inherit). Invariant: tests never
// touch the system token directory (/var/lib/softhsm/tokens).
using System.Runtime.InteropServices;

namespace Ironclad.Testing.Tools;

public static class SoftHsm
{
    public const string ConfVariable = "SOFTHSM2_CONF";

    private static readonly string[] ModuleCandidates =
    [
        "/usr/lib/softhsm/libsofthsm2.so",
        "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
        "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
        "/usr/local/lib/softhsm/libsofthsm2.so",
    ];

    private static readonly Lazy<(string Conf, string Tokens)> Configuration = new(Configure);

    /// <summary>libsofthsm2.so, or null when SoftHSM2 is not installed.</summary>
    public static string? ModulePath { get; } = ModuleCandidates.FirstOrDefault(File.Exists);

    /// <summary>The module, or (when missing) the exception that skips the test — or fails it with IRONCLAD_REQUIRE_TOOLS=1.</summary>
    public static string RequireModule() =>
        ModulePath ?? throw ExternalTool.Unavailable("softhsm2", "SoftHSM2 (libsofthsm2.so) is not installed (Debian package softhsm2)");

    /// <summary>This process's softhsm2.conf; SOFTHSM2_CONF points at it from the first call on (call before loading the module).</summary>
    public static string ConfPath => Configuration.Value.Conf;

    /// <summary>This process's token directory (outside any data directory).</summary>
    public static string TokenDirectory => Configuration.Value.Tokens;

    private static (string Conf, string Tokens) Configure()
    {
        var root = Directory.CreateTempSubdirectory("ironclad-softhsm-").FullName;
        var tokens = Path.Combine(root, "tokens");
        Directory.CreateDirectory(tokens);
        var conf = Path.Combine(root, "softhsm2.conf");
        File.WriteAllText(conf, $"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n");
        Environment.SetEnvironmentVariable(ConfVariable, conf);
        if (!OperatingSystem.IsWindows() && NativeMethods.SetEnv(ConfVariable, conf, 1) != 0)
        {
            throw new InvalidOperationException($"setenv({ConfVariable}) failed: errno {Marshal.GetLastPInvokeError()}");
        }

        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            if (Environment.GetEnvironmentVariable("IRONCLAD_KEEP_TEMP") == "1")
            {
                return;
            }

            try
            {
                Directory.Delete(root, recursive: true);
            }
            catch (IOException)
            {
                // Best effort: the OS cleans its temp directory anyway.
            }
        };
        return (conf, tokens);
    }

    private static class NativeMethods
    {
        [DllImport("libc", EntryPoint = "setenv", SetLastError = true, BestFitMapping = false, ThrowOnUnmappableChar = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int SetEnv(
            [MarshalAs(UnmanagedType.LPUTF8Str)] string name, [MarshalAs(UnmanagedType.LPUTF8Str)] string value, int overwrite);
    }
}
