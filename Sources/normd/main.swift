// The composition root's entry point: everything else lives in one file per command.
import ArgumentParser

NormdCommand.main()
