// The `ironclad` command tree and how it is invoked. Each command lives in its own file and is
// added here; this file owns the rules every command shares: a parse error prints to stderr and
// exits 2 before any action runs, and signals are left to the command (the server's generic host
// and `dev serve-scratch` handle SIGINT/SIGTERM themselves, so System.CommandLine must not install
// a competing handler).
using System.CommandLine;
using System.CommandLine.Parsing;

namespace Ironclad.Host.Commands;

internal static class IroncladCommandLine
{
    public static RootCommand Create()
    {
        var root = new RootCommand("Ironclad: managed disks encrypted at rest, speaking Azure's wire APIs.")
        {
            new ServerCommand(),
            new DevCommand(),
            new Cli.LoginCommand(),
            Cli.GroupCommand.Create(),
            Cli.RoleCommand.Create(),
            Cli.KeyVaultCommand.Create(),
            Cli.MonitorCommand.Create(),
            Cli.AdCommand.Create(),
            Cli.IdentityCommand.Create(),
            Cli.DiskEncryptionSetCommand.Create(),
            Cli.DiskCommand.CreateDisk(),
            Cli.DiskCommand.CreateSnapshot(),
            Cli.DiskCommand.CreateImage(),
            Cli.VmCommand.Create(),
            Cli.VmssCommand.Create(),
        };
        return root;
    }

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(error);
        // No response files: `@FILE` is an option value the command reads (az's `--value @policy.json`).
        var parseResult = Create().Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
        if (parseResult.Errors.Count > 0)
        {
            foreach (var parseError in parseResult.Errors)
            {
                await error.WriteLineAsync($"ironclad: {parseError.Message}");
            }

            await error.WriteLineAsync($"Run '{CommandPath(parseResult.CommandResult)} --help' for usage.");
            return ExitCodes.Usage;
        }

        var configuration = new InvocationConfiguration
        {
            Output = output,
            Error = error,
            ProcessTerminationTimeout = null,
            EnableDefaultExceptionHandler = true,
        };
        return await parseResult.InvokeAsync(configuration);
    }

    // "ironclad server" for a result under `server`: the deepest command the parser reached.
    private static string CommandPath(CommandResult commandResult)
    {
        var names = new Stack<string>();
        for (CommandResult? result = commandResult; result is not null; result = result.Parent as CommandResult)
        {
            names.Push(result.Command is RootCommand ? "ironclad" : result.Command.Name);
        }

        return string.Join(' ', names);
    }
}
