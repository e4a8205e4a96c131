// Finds the built `ironclad` (ironclad.dll plus its runtimeconfig) and the dotnet host that runs
// it, so tests start the real executable rather than an in-process copy. Order: $IRONCLAD_DLL,
// the test's own output directory (a ProjectReference to Ironclad.Host copies it there), then
// artifacts/bin/Ironclad.Host/<same configuration as the test>/.
namespace Ironclad.Testing.Processes;

public static class IroncladExecutable
{
    public const string AssemblyFileName = "ironclad.dll";
    public const string AssemblyOverrideVariable = "IRONCLAD_DLL";

    private const string RuntimeConfigFileName = "ironclad.runtimeconfig.json";

    /// <summary>Absolute path of ironclad.dll; throws with the places searched if there is none.</summary>
    public static string LocateAssembly()
    {
        var overridePath = Environment.GetEnvironmentVariable(AssemblyOverrideVariable);
        if (!string.IsNullOrEmpty(overridePath))
        {
            return File.Exists(overridePath)
                ? Path.GetFullPath(overridePath)
                : throw new FileNotFoundException($"{AssemblyOverrideVariable} names '{overridePath}', which does not exist.");
        }

        var searched = new List<string>();
        foreach (var directory in CandidateDirectories())
        {
            var candidate = Path.Combine(directory, AssemblyFileName);
            searched.Add(candidate);
            if (File.Exists(candidate) && File.Exists(Path.Combine(directory, RuntimeConfigFileName)))
            {
                return Path.GetFullPath(candidate);
            }
        }

        throw new FileNotFoundException(
            $"Cannot find a built {AssemblyFileName} (build src/Ironclad.Host first, or set {AssemblyOverrideVariable}). Searched: "
            + string.Join(", ", searched));
    }

    /// <summary>The dotnet host: the one running this test when known, else `dotnet` from PATH.</summary>
    public static string LocateDotnetHost()
    {
        var fromSdk = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(fromSdk) && File.Exists(fromSdk))
        {
            return fromSdk;
        }

        var current = Environment.ProcessPath;
        if (current is not null && Path.GetFileNameWithoutExtension(current).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
        {
            return current;
        }

        return OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet";
    }

    private static IEnumerable<string> CandidateDirectories()
    {
        var baseDirectory = Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory);
        yield return baseDirectory;

        // artifacts/bin/<Project>/<configuration>: prefer the test's own configuration.
        var configuration = Path.GetFileName(baseDirectory);
        for (var directory = new DirectoryInfo(baseDirectory); directory is not null; directory = directory.Parent)
        {
            var hostOutput = Path.Combine(directory.FullName, "artifacts", "bin", "Ironclad.Host");
            if (!Directory.Exists(hostOutput))
            {
                continue;
            }

            yield return Path.Combine(hostOutput, configuration);
            foreach (var other in Directory.EnumerateDirectories(hostOutput).Order(StringComparer.Ordinal))
            {
                yield return other;
            }
        }
    }
}
