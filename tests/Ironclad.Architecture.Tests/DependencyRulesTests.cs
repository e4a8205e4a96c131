// Keeps the dependency rules of docs/architecture.md true: which of our assemblies each assembly may
// reference, and that ASP.NET Core stays in the HTTP edge. A new src project must be added to the
// table below (a test fails until it is), so nobody adds a role without deciding its dependencies.
using System.Reflection;

namespace Ironclad.Architecture.Tests;

public sealed class DependencyRulesTests
{
    /// <summary>Assembly → the Ironclad assemblies it may reference.</summary>
    private static readonly Dictionary<string, string[]> Allowed = new()
    {
        ["Ironclad.Crypto"] = [],
        ["Ironclad.Storage"] = ["Ironclad.Crypto"],
        ["Ironclad.Metadata"] = [],
        ["Ironclad.Identity"] = ["Ironclad.Crypto", "Ironclad.Metadata"],
        ["Ironclad.ResourceManager"] = ["Ironclad.Metadata", "Ironclad.Identity"],
        ["Ironclad.KeyVault"] = ["Ironclad.Crypto", "Ironclad.Metadata", "Ironclad.ResourceManager"],
        // Compute reaches Key Vault only over its HTTPS API (never Ironclad.KeyVault) and storage only by handing it DEKs.
        ["Ironclad.Compute"] = ["Ironclad.Crypto", "Ironclad.Storage", "Ironclad.Metadata", "Ironclad.Identity", "Ironclad.ResourceManager"],
        ["Ironclad.ControlPlane"] = ["Ironclad.Identity", "Ironclad.ResourceManager", "Ironclad.KeyVault", "Ironclad.Compute", "Ironclad.Storage", "Ironclad.Crypto"],
        ["Ironclad.Nbd"] = [],
        ["ironclad"] = ["Ironclad.Crypto", "Ironclad.Storage", "Ironclad.ControlPlane", "Ironclad.Nbd", "Ironclad.Metadata", "Ironclad.Identity", "Ironclad.ResourceManager", "Ironclad.KeyVault", "Ironclad.Compute"],
    };

    private static readonly string[] MayUseAspNetCore = ["Ironclad.ControlPlane", "ironclad"];

    public static TheoryData<string> Assemblies() => [.. Allowed.Keys];

    [Theory]
    [MemberData(nameof(Assemblies))]
    public void Assembly_references_only_the_roles_it_is_allowed(string assemblyName)
    {
        var references = Load(assemblyName).GetReferencedAssemblies().Select(a => a.Name!).ToList();
        var ours = references.Where(IsOurs).ToList();
        Assert.All(ours, name => Assert.Contains(name, Allowed[assemblyName]));
    }

    [Theory]
    [MemberData(nameof(Assemblies))]
    public void Only_the_http_edge_references_AspNetCore(string assemblyName)
    {
        if (MayUseAspNetCore.Contains(assemblyName))
        {
            return;
        }

        Assert.DoesNotContain(Load(assemblyName).GetReferencedAssemblies(), a => a.Name!.StartsWith("Microsoft.AspNetCore", StringComparison.Ordinal));
    }

    [Fact]
    public void Every_src_project_has_a_rule()
    {
        var src = Path.Combine(RepositoryRoot(), "src");
        foreach (var project in Directory.EnumerateDirectories(src).Select(Path.GetFileName))
        {
            var assembly = project == "Ironclad.Host" ? "ironclad" : project!;
            Assert.True(Allowed.ContainsKey(assembly), $"src/{project} has no dependency rule in {nameof(DependencyRulesTests)}");
        }
    }

    [Fact]
    public void The_rules_can_fail()
    {
        // Guard against a vacuous rule: Storage really does reference Crypto, and Host really references ASP.NET Core.
        Assert.Contains(Load("Ironclad.Storage").GetReferencedAssemblies(), a => a.Name == "Ironclad.Crypto");
        Assert.Contains(Load("ironclad").GetReferencedAssemblies(), a => a.Name!.StartsWith("Microsoft.AspNetCore", StringComparison.Ordinal));
    }

    private static bool IsOurs(string name) => name.StartsWith("Ironclad.", StringComparison.Ordinal) || name == "ironclad";

    private static Assembly Load(string name) => Assembly.Load(new AssemblyName(name));

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Ironclad.slnx")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("Ironclad.slnx not found above the test directory.");
    }
}
