// `ironclad dev`: development tools that are not part of running a server: a scratch volume
// served over NBD (benchmarks, manual tests) and client certificates for NBD mutual TLS. Like
// every command, a malformed command line is a parse error (exit 2) before anything is created.
using System.CommandLine;

namespace Ironclad.Host.Commands;

internal sealed class DevCommand : Command
{
    public DevCommand()
        : base("dev", "Development tools: a scratch NBD volume, client certificates for NBD mutual TLS.")
    {
        Subcommands.Add(new ServeScratchCommand());
        Subcommands.Add(new IssueClientCertCommand());
    }
}
