// Entry point of the `ironclad` executable: parse the command line, run the chosen command,
// return its exit code (0 ok, 1 error, 2 usage; see ExitCodes).
using Ironclad.Host.Commands;

return await IroncladCommandLine.RunAsync(args, Console.Out, Console.Error);
